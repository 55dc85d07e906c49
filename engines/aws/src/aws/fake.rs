//! An in-memory IAM and STS for native unit tests.
//!
//! It keeps users, groups and keys per thread, answers like moto does (NoSuchEntity
//! for missing users, DeleteConflict when deleting a user that still has policies),
//! records every call as `Action(arg, ...)` so tests can assert Vault's call order,
//! and can be told to fail a chosen action.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use super::{
    AccessKey, AssumeRoleInput, AwsError, AwsErrorKind, AwsResult, ClientConfig, Credentials, Iam,
    Sts, Tag,
};

/// One fake IAM user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct User {
    /// The user's path.
    pub path: String,
    /// Permissions boundary ARN.
    pub boundary: Option<String>,
    /// Inline policies: name → document.
    pub inline: BTreeMap<String, String>,
    /// Attached managed policy ARNs.
    pub attached: BTreeSet<String>,
    /// Groups.
    pub groups: BTreeSet<String>,
    /// Access key ids.
    pub keys: BTreeSet<String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// One fake IAM group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Group {
    /// Inline policies: name → document.
    pub inline: BTreeMap<String, String>,
    /// Attached managed policy ARNs.
    pub attached: Vec<String>,
}

/// The whole fake account.
#[derive(Debug, Default)]
pub struct State {
    /// Users by name.
    pub users: BTreeMap<String, User>,
    /// Groups by name.
    pub groups: BTreeMap<String, Group>,
    /// Every call made, in order.
    pub calls: Vec<String>,
    /// Actions that fail (once each) with the given error.
    pub faults: Vec<(String, AwsError)>,
    /// Every client configuration a client was built with.
    pub configs: Vec<ClientConfig>,
    key_counter: u64,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

/// Runs `f` on this thread's fake account.
pub fn with<R>(f: impl FnOnce(&mut State) -> R) -> R {
    STATE.with(|s| f(&mut s.borrow_mut()))
}

/// Forgets everything.
pub fn reset() {
    with(|s| *s = State::default());
}

/// Makes the next call of `action` fail with `error`.
pub fn fail_next(action: &str, error: AwsError) {
    with(|s| s.faults.push((action.to_string(), error)));
}

/// The calls made so far, and forgets them.
pub fn take_calls() -> Vec<String> {
    with(|s| std::mem::take(&mut s.calls))
}

/// Adds a group with inline policies and managed policy ARNs.
pub fn add_group(name: &str, inline: &[(&str, &str)], attached: &[&str]) {
    with(|s| {
        s.groups.insert(
            name.to_string(),
            Group {
                inline: inline
                    .iter()
                    .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                    .collect(),
                attached: attached.iter().map(|a| (*a).to_string()).collect(),
            },
        );
    });
}

/// Adds a user with one access key (the "root" user the engine is configured with).
pub fn add_user_with_key(name: &str, key: &str) {
    with(|s| {
        let mut user = User {
            path: "/".into(),
            ..User::default()
        };
        user.keys.insert(key.to_string());
        s.users.insert(name.to_string(), user);
    });
}

/// A snapshot of user `name`.
pub fn user(name: &str) -> Option<User> {
    with(|s| s.users.get(name).cloned())
}

/// Every user name.
pub fn user_names() -> Vec<String> {
    with(|s| s.users.keys().cloned().collect())
}

fn no_user(name: &str) -> AwsError {
    AwsError::new(
        AwsErrorKind::NoSuchEntity,
        format!("The user with name {name} cannot be found."),
    )
}

/// Records `call`, then fails it if a fault is armed for its action.
fn begin(s: &mut State, action: &str, call: String) -> AwsResult<()> {
    s.calls.push(call);
    if let Some(i) = s.faults.iter().position(|(a, _)| a == action) {
        let (_, e) = s.faults.remove(i);
        return Err(e);
    }
    Ok(())
}

fn user_mut<'a>(s: &'a mut State, name: &str) -> AwsResult<&'a mut User> {
    s.users.get_mut(name).ok_or_else(|| no_user(name))
}

/// The fake IAM client.
pub struct FakeIam {
    /// The configured access key: `GetUser()` without a name finds its owner.
    access_key: String,
}

impl FakeIam {
    /// A client for `config` (recorded for tests).
    pub fn new(config: &ClientConfig) -> Self {
        with(|s| s.configs.push(config.clone()));
        FakeIam {
            access_key: config.access_key.clone(),
        }
    }

    fn caller(&self, s: &State) -> AwsResult<String> {
        s.users
            .iter()
            .find(|(_, u)| u.keys.contains(&self.access_key))
            .map(|(n, _)| n.clone())
            .ok_or_else(|| {
                AwsError::new(
                    AwsErrorKind::AccessDenied,
                    "The security token included in the request is invalid.",
                )
            })
    }
}

impl Iam for FakeIam {
    fn get_user(&self, user_name: Option<&str>) -> AwsResult<String> {
        with(|s| {
            begin(
                s,
                "GetUser",
                format!("GetUser({})", user_name.unwrap_or("")),
            )?;
            match user_name {
                Some(n) => user_mut(s, n).map(|_| n.to_string()),
                None => self.caller(s),
            }
        })
    }

    fn create_user(
        &self,
        user_name: &str,
        path: Option<&str>,
        permissions_boundary: Option<&str>,
    ) -> AwsResult<()> {
        with(|s| {
            begin(
                s,
                "CreateUser",
                format!(
                    "CreateUser({user_name}, {}, {})",
                    path.unwrap_or("-"),
                    permissions_boundary.unwrap_or("-")
                ),
            )?;
            if s.users.contains_key(user_name) {
                return Err(AwsError::new(
                    AwsErrorKind::EntityAlreadyExists,
                    format!("User with name {user_name} already exists."),
                ));
            }
            s.users.insert(
                user_name.to_string(),
                User {
                    path: path.unwrap_or("/").to_string(),
                    boundary: permissions_boundary.map(str::to_string),
                    ..User::default()
                },
            );
            Ok(())
        })
    }

    fn delete_user(&self, user_name: &str) -> AwsResult<()> {
        with(|s| {
            begin(s, "DeleteUser", format!("DeleteUser({user_name})"))?;
            let user = user_mut(s, user_name)?;
            if !user.inline.is_empty() || !user.attached.is_empty() {
                return Err(AwsError::new(
                    AwsErrorKind::DeleteConflict,
                    "Cannot delete entity, must delete policies first.",
                ));
            }
            s.users.remove(user_name);
            Ok(())
        })
    }

    fn attach_user_policy(&self, user_name: &str, policy_arn: &str) -> AwsResult<()> {
        with(|s| {
            begin(
                s,
                "AttachUserPolicy",
                format!("AttachUserPolicy({user_name}, {policy_arn})"),
            )?;
            user_mut(s, user_name)?
                .attached
                .insert(policy_arn.to_string());
            Ok(())
        })
    }

    fn detach_user_policy(&self, user_name: &str, policy_arn: &str) -> AwsResult<()> {
        with(|s| {
            begin(
                s,
                "DetachUserPolicy",
                format!("DetachUserPolicy({user_name}, {policy_arn})"),
            )?;
            if !user_mut(s, user_name)?.attached.remove(policy_arn) {
                return Err(AwsError::new(
                    AwsErrorKind::NoSuchEntity,
                    format!("Policy {policy_arn} was not found."),
                ));
            }
            Ok(())
        })
    }

    fn put_user_policy(&self, user_name: &str, policy_name: &str, document: &str) -> AwsResult<()> {
        with(|s| {
            begin(
                s,
                "PutUserPolicy",
                format!("PutUserPolicy({user_name}, {policy_name}, {document})"),
            )?;
            user_mut(s, user_name)?
                .inline
                .insert(policy_name.to_string(), document.to_string());
            Ok(())
        })
    }

    fn delete_user_policy(&self, user_name: &str, policy_name: &str) -> AwsResult<()> {
        with(|s| {
            begin(
                s,
                "DeleteUserPolicy",
                format!("DeleteUserPolicy({user_name}, {policy_name})"),
            )?;
            if user_mut(s, user_name)?.inline.remove(policy_name).is_none() {
                return Err(AwsError::new(
                    AwsErrorKind::NoSuchEntity,
                    format!("The user policy with name {policy_name} cannot be found."),
                ));
            }
            Ok(())
        })
    }

    fn add_user_to_group(&self, group_name: &str, user_name: &str) -> AwsResult<()> {
        with(|s| {
            begin(
                s,
                "AddUserToGroup",
                format!("AddUserToGroup({group_name}, {user_name})"),
            )?;
            if !s.groups.contains_key(group_name) {
                return Err(AwsError::new(
                    AwsErrorKind::NoSuchEntity,
                    format!("The group with name {group_name} cannot be found."),
                ));
            }
            user_mut(s, user_name)?
                .groups
                .insert(group_name.to_string());
            Ok(())
        })
    }

    fn remove_user_from_group(&self, group_name: &str, user_name: &str) -> AwsResult<()> {
        with(|s| {
            begin(
                s,
                "RemoveUserFromGroup",
                format!("RemoveUserFromGroup({group_name}, {user_name})"),
            )?;
            user_mut(s, user_name)?.groups.remove(group_name);
            Ok(())
        })
    }

    fn tag_user(&self, user_name: &str, tags: &[Tag]) -> AwsResult<()> {
        with(|s| {
            let list: Vec<String> = tags
                .iter()
                .map(|t| format!("{}={}", t.key, t.value))
                .collect();
            begin(
                s,
                "TagUser",
                format!("TagUser({user_name}, [{}])", list.join(" ")),
            )?;
            let user = user_mut(s, user_name)?;
            for t in tags {
                user.tags.insert(t.key.clone(), t.value.clone());
            }
            Ok(())
        })
    }

    fn create_access_key(&self, user_name: Option<&str>) -> AwsResult<AccessKey> {
        with(|s| {
            begin(
                s,
                "CreateAccessKey",
                format!("CreateAccessKey({})", user_name.unwrap_or("")),
            )?;
            let name = match user_name {
                Some(n) => n.to_string(),
                None => self.caller(s)?,
            };
            s.key_counter += 1;
            let id = format!("AKIAFAKE{:012}", s.key_counter);
            let user = user_mut(s, &name)?;
            if user.keys.len() >= 2 {
                return Err(AwsError::new(
                    AwsErrorKind::LimitExceeded,
                    "Cannot exceed quota for AccessKeysPerUser: 2",
                ));
            }
            user.keys.insert(id.clone());
            Ok(AccessKey {
                secret_access_key: format!("secret-{id}"),
                access_key_id: id,
            })
        })
    }

    fn delete_access_key(&self, user_name: Option<&str>, access_key_id: &str) -> AwsResult<()> {
        with(|s| {
            begin(
                s,
                "DeleteAccessKey",
                format!(
                    "DeleteAccessKey({}, {access_key_id})",
                    user_name.unwrap_or("")
                ),
            )?;
            let name = match user_name {
                Some(n) => n.to_string(),
                None => self.caller(s)?,
            };
            if !user_mut(s, &name)?.keys.remove(access_key_id) {
                return Err(AwsError::new(
                    AwsErrorKind::NoSuchEntity,
                    format!("The Access Key with id {access_key_id} cannot be found"),
                ));
            }
            Ok(())
        })
    }

    fn list_access_keys(&self, user_name: &str) -> AwsResult<Vec<String>> {
        with(|s| {
            begin(s, "ListAccessKeys", format!("ListAccessKeys({user_name})"))?;
            Ok(user_mut(s, user_name)?.keys.iter().cloned().collect())
        })
    }

    fn list_user_policies(&self, user_name: &str) -> AwsResult<Vec<String>> {
        with(|s| {
            begin(
                s,
                "ListUserPolicies",
                format!("ListUserPolicies({user_name})"),
            )?;
            Ok(user_mut(s, user_name)?.inline.keys().cloned().collect())
        })
    }

    fn list_attached_user_policies(&self, user_name: &str) -> AwsResult<Vec<String>> {
        with(|s| {
            begin(
                s,
                "ListAttachedUserPolicies",
                format!("ListAttachedUserPolicies({user_name})"),
            )?;
            Ok(user_mut(s, user_name)?.attached.iter().cloned().collect())
        })
    }

    fn list_groups_for_user(&self, user_name: &str) -> AwsResult<Vec<String>> {
        with(|s| {
            begin(
                s,
                "ListGroupsForUser",
                format!("ListGroupsForUser({user_name})"),
            )?;
            Ok(user_mut(s, user_name)?.groups.iter().cloned().collect())
        })
    }

    fn list_attached_group_policies(&self, group_name: &str) -> AwsResult<Vec<String>> {
        with(|s| {
            begin(
                s,
                "ListAttachedGroupPolicies",
                format!("ListAttachedGroupPolicies({group_name})"),
            )?;
            group(s, group_name).map(|g| g.attached.clone())
        })
    }

    fn list_group_policies(&self, group_name: &str) -> AwsResult<Vec<String>> {
        with(|s| {
            begin(
                s,
                "ListGroupPolicies",
                format!("ListGroupPolicies({group_name})"),
            )?;
            group(s, group_name).map(|g| g.inline.keys().cloned().collect())
        })
    }

    fn get_group_policy(&self, group_name: &str, policy_name: &str) -> AwsResult<String> {
        with(|s| {
            begin(
                s,
                "GetGroupPolicy",
                format!("GetGroupPolicy({group_name}, {policy_name})"),
            )?;
            group(s, group_name)?
                .inline
                .get(policy_name)
                .cloned()
                .ok_or_else(|| AwsError::new(AwsErrorKind::NoSuchEntity, "no such policy"))
        })
    }
}

fn group<'a>(s: &'a State, name: &str) -> AwsResult<&'a Group> {
    s.groups.get(name).ok_or_else(|| {
        AwsError::new(
            AwsErrorKind::NoSuchEntity,
            format!("The group with name {name} cannot be found."),
        )
    })
}

/// The fake STS client: every call succeeds (unless a fault is armed) with
/// credentials that expire `duration` (default 3600) seconds after the SDK's fake
/// clock.
pub struct FakeSts;

impl FakeSts {
    /// A client for `config` (recorded for tests).
    pub fn new(config: &ClientConfig) -> Self {
        with(|s| s.configs.push(config.clone()));
        FakeSts
    }
}

fn temp_credentials(duration: Option<u32>) -> Credentials {
    Credentials {
        access_key_id: "ASIAFAKE".into(),
        secret_access_key: "sts-secret".into(),
        session_token: "sts-token".into(),
        expiration: coffer_sdk::clock::now().as_secs() + u64::from(duration.unwrap_or(3600)),
    }
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

impl Sts for FakeSts {
    fn assume_role(&self, input: &AssumeRoleInput) -> AwsResult<(Credentials, String)> {
        with(|s| {
            let tags: Vec<String> = input
                .tags
                .iter()
                .map(|t| format!("{}={}", t.key, t.value))
                .collect();
            begin(
                s,
                "AssumeRole",
                format!(
                    "AssumeRole({}, {}, {}, {}, [{}], [{}], {})",
                    input.role_arn,
                    input.role_session_name,
                    opt(input.duration_seconds),
                    opt(input.policy.as_deref()),
                    input.policy_arns.join(" "),
                    tags.join(" "),
                    opt(input.external_id.as_deref()),
                ),
            )?;
            let arn = format!(
                "arn:aws:sts::123456789012:assumed-role/{}/{}",
                input.role_arn.rsplit('/').next().unwrap_or(""),
                input.role_session_name
            );
            Ok((temp_credentials(input.duration_seconds), arn))
        })
    }

    fn get_federation_token(
        &self,
        name: &str,
        duration_seconds: Option<u32>,
        policy: Option<&str>,
        policy_arns: &[String],
    ) -> AwsResult<Credentials> {
        with(|s| {
            begin(
                s,
                "GetFederationToken",
                format!(
                    "GetFederationToken({name}, {}, {}, [{}])",
                    opt(duration_seconds),
                    opt(policy),
                    policy_arns.join(" ")
                ),
            )?;
            Ok(temp_credentials(duration_seconds))
        })
    }

    fn get_session_token(
        &self,
        duration_seconds: Option<u32>,
        serial_number: Option<&str>,
        token_code: Option<&str>,
    ) -> AwsResult<Credentials> {
        with(|s| {
            begin(
                s,
                "GetSessionToken",
                format!(
                    "GetSessionToken({}, {}, {})",
                    opt(duration_seconds),
                    opt(serial_number),
                    opt(token_code)
                ),
            )?;
            Ok(temp_credentials(duration_seconds))
        })
    }
}
