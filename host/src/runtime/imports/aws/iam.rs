//! `coffer:engine/aws-iam`: [`Iam`], one method per IAM operation an engine may call,
//! and the thin WIT trait impls over it.

use std::future::Future;
use std::sync::{Arc, LazyLock, Mutex};

use wasmtime::component::Resource;

use super::clients::{AwsConfig, CACHE_CAPACITY, ClientCache, Conn, Service, cached};
use super::{
    AccessKey, AwsError, ClientConfig, IamClient, Tag, User, built, errors, missing, push, run,
    stale_handle,
};
use crate::runtime::CallState;
use crate::runtime::bindings::coffer::engine::aws_iam::{Host, HostClient};

/// Items per page for list calls (Vault asks for 1000 and never pages; IAM's maximum).
const PAGE_SIZE: i32 = 1000;
/// Pages followed before giving up, so a server that always says "truncated" cannot
/// keep a call going until its timeout.
const MAX_PAGES: usize = 100;

static CLIENTS: LazyLock<Mutex<ClientCache<Iam>>> =
    LazyLock::new(|| Mutex::new(ClientCache::new(CACHE_CAPACITY)));

/// An IAM client for one config. Cloning is cheap (reference-counted).
#[derive(Clone)]
pub struct Iam {
    client: aws_sdk_iam::Client,
    conn: Arc<Conn>,
}

impl std::fmt::Debug for Iam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Iam")
            .field("endpoint", &self.conn.endpoint)
            .finish_non_exhaustive()
    }
}

/// The subject logged for calls about the caller's own user.
fn who(user_name: Option<&str>) -> &str {
    user_name.unwrap_or("(caller)")
}

fn user(u: aws_sdk_iam::types::User) -> User {
    User {
        user_name: u.user_name,
        user_id: u.user_id,
        arn: u.arn,
        path: u.path,
    }
}

/// The marker for the next page, if IAM says there is one.
fn next_page(truncated: bool, marker: Option<&str>) -> Option<String> {
    marker
        .filter(|m| truncated && !m.is_empty())
        .map(str::to_string)
}

/// Collects every page of a list call. `page` fetches one page from a marker and
/// returns its items and the next marker.
async fn all_pages<F, Fut>(op: &str, mut page: F) -> Result<Vec<String>, AwsError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<(Vec<String>, Option<String>), AwsError>>,
{
    let mut items = Vec::new();
    let mut marker = None;
    for _ in 0..MAX_PAGES {
        let (mut got, next) = page(marker.take()).await?;
        items.append(&mut got);
        match next {
            Some(m) => marker = Some(m),
            None => return Ok(items),
        }
    }
    Err(AwsError::Other((
        String::new(),
        format!("{op} returned more than {MAX_PAGES} pages"),
    )))
}

impl Iam {
    /// A client for `config`, reused from the process-wide cache when an equal config
    /// was seen before. The config's secret is zeroized once this returns.
    pub fn connect(config: ClientConfig) -> Result<Self, AwsError> {
        let config = AwsConfig::new(config)?;
        Ok(cached(&CLIENTS, config.cache_key(Service::Iam), || Iam {
            client: config.iam_client(),
            conn: Conn::new(&config, Service::Iam),
        }))
    }

    /// The underlying SDK client, for calls engines are not offered (test setup).
    pub fn sdk(&self) -> &aws_sdk_iam::Client {
        &self.client
    }

    /// Whether two handles share one cached SDK client.
    pub fn same_client(&self, other: &Iam) -> bool {
        Arc::ptr_eq(&self.conn, &other.conn)
    }

    /// `GetUser`: the named user, or the caller's own user.
    pub async fn get_user(&self, user_name: Option<&str>) -> Result<User, AwsError> {
        let req = self
            .client
            .get_user()
            .set_user_name(user_name.map(str::to_string));
        let out = run(&self.conn, "GetUser", who(user_name), req.send()).await?;
        out.user.map(user).ok_or_else(|| missing("GetUser", "user"))
    }

    /// `CreateUser`. An empty `path` or boundary counts as none.
    pub async fn create_user(
        &self,
        user_name: &str,
        path: Option<&str>,
        permissions_boundary: Option<&str>,
    ) -> Result<User, AwsError> {
        let nonempty = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(str::to_string);
        let req = self
            .client
            .create_user()
            .user_name(user_name)
            .set_path(nonempty(path))
            .set_permissions_boundary(nonempty(permissions_boundary));
        let out = run(&self.conn, "CreateUser", user_name, req.send()).await?;
        out.user
            .map(user)
            .ok_or_else(|| missing("CreateUser", "user"))
    }

    /// `DeleteUser`.
    pub async fn delete_user(&self, user_name: &str) -> Result<(), AwsError> {
        let req = self.client.delete_user().user_name(user_name);
        run(&self.conn, "DeleteUser", user_name, req.send()).await?;
        Ok(())
    }

    /// `AttachUserPolicy`.
    pub async fn attach_user_policy(
        &self,
        user_name: &str,
        policy_arn: &str,
    ) -> Result<(), AwsError> {
        let req = self
            .client
            .attach_user_policy()
            .user_name(user_name)
            .policy_arn(policy_arn);
        run(&self.conn, "AttachUserPolicy", user_name, req.send()).await?;
        Ok(())
    }

    /// `DetachUserPolicy`.
    pub async fn detach_user_policy(
        &self,
        user_name: &str,
        policy_arn: &str,
    ) -> Result<(), AwsError> {
        let req = self
            .client
            .detach_user_policy()
            .user_name(user_name)
            .policy_arn(policy_arn);
        run(&self.conn, "DetachUserPolicy", user_name, req.send()).await?;
        Ok(())
    }

    /// `PutUserPolicy`: sets an inline policy.
    pub async fn put_user_policy(
        &self,
        user_name: &str,
        policy_name: &str,
        policy_document: &str,
    ) -> Result<(), AwsError> {
        let req = self
            .client
            .put_user_policy()
            .user_name(user_name)
            .policy_name(policy_name)
            .policy_document(policy_document);
        run(&self.conn, "PutUserPolicy", user_name, req.send()).await?;
        Ok(())
    }

    /// `DeleteUserPolicy`.
    pub async fn delete_user_policy(
        &self,
        user_name: &str,
        policy_name: &str,
    ) -> Result<(), AwsError> {
        let req = self
            .client
            .delete_user_policy()
            .user_name(user_name)
            .policy_name(policy_name);
        run(&self.conn, "DeleteUserPolicy", user_name, req.send()).await?;
        Ok(())
    }

    /// `AddUserToGroup`.
    pub async fn add_user_to_group(
        &self,
        group_name: &str,
        user_name: &str,
    ) -> Result<(), AwsError> {
        let req = self
            .client
            .add_user_to_group()
            .group_name(group_name)
            .user_name(user_name);
        run(&self.conn, "AddUserToGroup", user_name, req.send()).await?;
        Ok(())
    }

    /// `RemoveUserFromGroup`.
    pub async fn remove_user_from_group(
        &self,
        group_name: &str,
        user_name: &str,
    ) -> Result<(), AwsError> {
        let req = self
            .client
            .remove_user_from_group()
            .group_name(group_name)
            .user_name(user_name);
        run(&self.conn, "RemoveUserFromGroup", user_name, req.send()).await?;
        Ok(())
    }

    /// `TagUser`. No tags is a no-op rather than a call AWS would reject.
    pub async fn tag_user(&self, user_name: &str, tags: &[Tag]) -> Result<(), AwsError> {
        if tags.is_empty() {
            return Ok(());
        }
        let mut req = self.client.tag_user().user_name(user_name);
        for t in tags {
            req = req.tags(built(
                aws_sdk_iam::types::Tag::builder()
                    .key(&t.key)
                    .value(&t.value)
                    .build(),
                "tag",
            )?);
        }
        run(&self.conn, "TagUser", user_name, req.send()).await?;
        Ok(())
    }

    /// `CreateAccessKey` for the named user, or the caller.
    pub async fn create_access_key(&self, user_name: Option<&str>) -> Result<AccessKey, AwsError> {
        let req = self
            .client
            .create_access_key()
            .set_user_name(user_name.map(str::to_string));
        let out = run(&self.conn, "CreateAccessKey", who(user_name), req.send()).await?;
        // Moved, not copied: the secret exists once on the host side.
        let key = out
            .access_key
            .ok_or_else(|| missing("CreateAccessKey", "access key"))?;
        Ok(AccessKey {
            access_key_id: key.access_key_id,
            secret_access_key: key.secret_access_key,
            user_name: key.user_name,
        })
    }

    /// `DeleteAccessKey`.
    pub async fn delete_access_key(
        &self,
        user_name: Option<&str>,
        access_key_id: &str,
    ) -> Result<(), AwsError> {
        let req = self
            .client
            .delete_access_key()
            .set_user_name(user_name.map(str::to_string))
            .access_key_id(access_key_id);
        run(&self.conn, "DeleteAccessKey", who(user_name), req.send()).await?;
        Ok(())
    }

    /// `ListAccessKeys`: the ids of the user's (or the caller's) keys.
    pub async fn list_access_keys(&self, user_name: Option<&str>) -> Result<Vec<String>, AwsError> {
        all_pages("ListAccessKeys", |marker| async move {
            let req = self
                .client
                .list_access_keys()
                .set_user_name(user_name.map(str::to_string))
                .max_items(PAGE_SIZE)
                .set_marker(marker);
            let out = run(&self.conn, "ListAccessKeys", who(user_name), req.send()).await?;
            let ids = out
                .access_key_metadata()
                .iter()
                .filter_map(|k| k.access_key_id().map(str::to_string))
                .collect();
            Ok((ids, next_page(out.is_truncated(), out.marker())))
        })
        .await
    }

    /// `ListUserPolicies`: inline policy names.
    pub async fn list_user_policies(&self, user_name: &str) -> Result<Vec<String>, AwsError> {
        all_pages("ListUserPolicies", |marker| async move {
            let req = self
                .client
                .list_user_policies()
                .user_name(user_name)
                .max_items(PAGE_SIZE)
                .set_marker(marker);
            let out = run(&self.conn, "ListUserPolicies", user_name, req.send()).await?;
            let names = out.policy_names().to_vec();
            Ok((names, next_page(out.is_truncated(), out.marker())))
        })
        .await
    }

    /// `ListAttachedUserPolicies`: managed policy ARNs.
    pub async fn list_attached_user_policies(
        &self,
        user_name: &str,
    ) -> Result<Vec<String>, AwsError> {
        all_pages("ListAttachedUserPolicies", |marker| async move {
            let req = self
                .client
                .list_attached_user_policies()
                .user_name(user_name)
                .max_items(PAGE_SIZE)
                .set_marker(marker);
            let out = run(
                &self.conn,
                "ListAttachedUserPolicies",
                user_name,
                req.send(),
            )
            .await?;
            let arns = out
                .attached_policies()
                .iter()
                .filter_map(|p| p.policy_arn().map(str::to_string))
                .collect();
            Ok((arns, next_page(out.is_truncated(), out.marker())))
        })
        .await
    }

    /// `ListGroupsForUser`: group names.
    pub async fn list_groups_for_user(&self, user_name: &str) -> Result<Vec<String>, AwsError> {
        all_pages("ListGroupsForUser", |marker| async move {
            let req = self
                .client
                .list_groups_for_user()
                .user_name(user_name)
                .max_items(PAGE_SIZE)
                .set_marker(marker);
            let out = run(&self.conn, "ListGroupsForUser", user_name, req.send()).await?;
            let groups = out
                .groups()
                .iter()
                .map(|g| g.group_name().to_string())
                .collect();
            Ok((groups, next_page(out.is_truncated(), out.marker())))
        })
        .await
    }

    /// `ListAttachedGroupPolicies`: a group's managed policy ARNs.
    pub async fn list_attached_group_policies(
        &self,
        group_name: &str,
    ) -> Result<Vec<String>, AwsError> {
        all_pages("ListAttachedGroupPolicies", |marker| async move {
            let req = self
                .client
                .list_attached_group_policies()
                .group_name(group_name)
                .max_items(PAGE_SIZE)
                .set_marker(marker);
            let out = run(
                &self.conn,
                "ListAttachedGroupPolicies",
                group_name,
                req.send(),
            )
            .await?;
            let arns = out
                .attached_policies()
                .iter()
                .filter_map(|p| p.policy_arn().map(str::to_string))
                .collect();
            Ok((arns, next_page(out.is_truncated(), out.marker())))
        })
        .await
    }

    /// `ListGroupPolicies`: a group's inline policy names.
    pub async fn list_group_policies(&self, group_name: &str) -> Result<Vec<String>, AwsError> {
        all_pages("ListGroupPolicies", |marker| async move {
            let req = self
                .client
                .list_group_policies()
                .group_name(group_name)
                .max_items(PAGE_SIZE)
                .set_marker(marker);
            let out = run(&self.conn, "ListGroupPolicies", group_name, req.send()).await?;
            let names = out.policy_names().to_vec();
            Ok((names, next_page(out.is_truncated(), out.marker())))
        })
        .await
    }

    /// `GetGroupPolicy`: the inline policy document, URL-decoded (IAM returns it
    /// URL-encoded).
    pub async fn get_group_policy(
        &self,
        group_name: &str,
        policy_name: &str,
    ) -> Result<String, AwsError> {
        let req = self
            .client
            .get_group_policy()
            .group_name(group_name)
            .policy_name(policy_name);
        let out = run(&self.conn, "GetGroupPolicy", group_name, req.send()).await?;
        errors::decode_policy(out.policy_document())
    }
}

impl CallState {
    /// The client behind an engine's handle (a cheap clone, so no borrow of `self` is
    /// held across the AWS call).
    fn iam(&self, handle: &Resource<IamClient>) -> Result<Iam, AwsError> {
        match self.table.get(handle).map_err(stale_handle)? {
            IamClient(Ok(iam)) => Ok(iam.clone()),
            IamClient(Err(e)) => Err(e.clone()),
        }
    }
}

impl Host for CallState {}

impl HostClient for CallState {
    async fn new(&mut self, config: ClientConfig) -> wasmtime::Result<Resource<IamClient>> {
        push(&mut self.table, IamClient(Iam::connect(config)))
    }

    async fn get_user(
        &mut self,
        this: Resource<IamClient>,
        user_name: Option<String>,
    ) -> Result<User, AwsError> {
        let client = self.iam(&this)?;
        self.bounded(client.get_user(user_name.as_deref())).await
    }

    async fn create_user(
        &mut self,
        this: Resource<IamClient>,
        user_name: String,
        path: Option<String>,
        permissions_boundary: Option<String>,
    ) -> Result<User, AwsError> {
        let client = self.iam(&this)?;
        self.bounded(client.create_user(
            &user_name,
            path.as_deref(),
            permissions_boundary.as_deref(),
        ))
        .await
    }

    async fn delete_user(
        &mut self,
        this: Resource<IamClient>,
        user_name: String,
    ) -> Result<(), AwsError> {
        let client = self.iam(&this)?;
        self.bounded(client.delete_user(&user_name)).await
    }

    async fn attach_user_policy(
        &mut self,
        this: Resource<IamClient>,
        user_name: String,
        policy_arn: String,
    ) -> Result<(), AwsError> {
        let client = self.iam(&this)?;
        self.bounded(client.attach_user_policy(&user_name, &policy_arn))
            .await
    }

    async fn detach_user_policy(
        &mut self,
        this: Resource<IamClient>,
        user_name: String,
        policy_arn: String,
    ) -> Result<(), AwsError> {
        let client = self.iam(&this)?;
        self.bounded(client.detach_user_policy(&user_name, &policy_arn))
            .await
    }

    async fn put_user_policy(
        &mut self,
        this: Resource<IamClient>,
        user_name: String,
        policy_name: String,
        policy_document: String,
    ) -> Result<(), AwsError> {
        let client = self.iam(&this)?;
        self.bounded(client.put_user_policy(&user_name, &policy_name, &policy_document))
            .await
    }

    async fn delete_user_policy(
        &mut self,
        this: Resource<IamClient>,
        user_name: String,
        policy_name: String,
    ) -> Result<(), AwsError> {
        let client = self.iam(&this)?;
        self.bounded(client.delete_user_policy(&user_name, &policy_name))
            .await
    }

    async fn add_user_to_group(
        &mut self,
        this: Resource<IamClient>,
        group_name: String,
        user_name: String,
    ) -> Result<(), AwsError> {
        let client = self.iam(&this)?;
        self.bounded(client.add_user_to_group(&group_name, &user_name))
            .await
    }

    async fn remove_user_from_group(
        &mut self,
        this: Resource<IamClient>,
        group_name: String,
        user_name: String,
    ) -> Result<(), AwsError> {
        let client = self.iam(&this)?;
        self.bounded(client.remove_user_from_group(&group_name, &user_name))
            .await
    }

    async fn tag_user(
        &mut self,
        this: Resource<IamClient>,
        user_name: String,
        tags: Vec<Tag>,
    ) -> Result<(), AwsError> {
        let client = self.iam(&this)?;
        self.bounded(client.tag_user(&user_name, &tags)).await
    }

    async fn create_access_key(
        &mut self,
        this: Resource<IamClient>,
        user_name: Option<String>,
    ) -> Result<AccessKey, AwsError> {
        let client = self.iam(&this)?;
        self.bounded(client.create_access_key(user_name.as_deref()))
            .await
    }

    async fn delete_access_key(
        &mut self,
        this: Resource<IamClient>,
        user_name: Option<String>,
        access_key_id: String,
    ) -> Result<(), AwsError> {
        let client = self.iam(&this)?;
        self.bounded(client.delete_access_key(user_name.as_deref(), &access_key_id))
            .await
    }

    async fn list_access_keys(
        &mut self,
        this: Resource<IamClient>,
        user_name: Option<String>,
    ) -> Result<Vec<String>, AwsError> {
        let client = self.iam(&this)?;
        self.bounded(client.list_access_keys(user_name.as_deref()))
            .await
    }

    async fn list_user_policies(
        &mut self,
        this: Resource<IamClient>,
        user_name: String,
    ) -> Result<Vec<String>, AwsError> {
        let client = self.iam(&this)?;
        self.bounded(client.list_user_policies(&user_name)).await
    }

    async fn list_attached_user_policies(
        &mut self,
        this: Resource<IamClient>,
        user_name: String,
    ) -> Result<Vec<String>, AwsError> {
        let client = self.iam(&this)?;
        self.bounded(client.list_attached_user_policies(&user_name))
            .await
    }

    async fn list_groups_for_user(
        &mut self,
        this: Resource<IamClient>,
        user_name: String,
    ) -> Result<Vec<String>, AwsError> {
        let client = self.iam(&this)?;
        self.bounded(client.list_groups_for_user(&user_name)).await
    }

    async fn list_attached_group_policies(
        &mut self,
        this: Resource<IamClient>,
        group_name: String,
    ) -> Result<Vec<String>, AwsError> {
        let client = self.iam(&this)?;
        self.bounded(client.list_attached_group_policies(&group_name))
            .await
    }

    async fn list_group_policies(
        &mut self,
        this: Resource<IamClient>,
        group_name: String,
    ) -> Result<Vec<String>, AwsError> {
        let client = self.iam(&this)?;
        self.bounded(client.list_group_policies(&group_name)).await
    }

    async fn get_group_policy(
        &mut self,
        this: Resource<IamClient>,
        group_name: String,
        policy_name: String,
    ) -> Result<String, AwsError> {
        let client = self.iam(&this)?;
        self.bounded(client.get_group_policy(&group_name, &policy_name))
            .await
    }

    async fn drop(&mut self, this: Resource<IamClient>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_markers_only_when_truncated() {
        assert_eq!(next_page(true, Some("m")), Some("m".to_string()));
        assert_eq!(next_page(false, Some("m")), None);
        assert_eq!(next_page(true, Some("")), None);
        assert_eq!(next_page(true, None), None);
    }

    #[tokio::test]
    async fn all_pages_collects_and_is_bounded() {
        let got = all_pages("T", |marker| async move {
            Ok(match marker.as_deref() {
                None => (vec!["a".to_string()], Some("1".to_string())),
                Some("1") => (vec!["b".to_string()], None),
                Some(_) => (vec![], None),
            })
        })
        .await;
        assert_eq!(got.ok(), Some(vec!["a".to_string(), "b".to_string()]));
        let endless = all_pages("T", |_| async { Ok((vec![], Some("again".to_string()))) }).await;
        assert!(matches!(endless, Err(AwsError::Other(_))));
    }

    #[test]
    fn same_config_same_client_changed_config_new_client() {
        let config = |secret: &str| ClientConfig {
            access_key: "AKIAUNITTEST".into(),
            secret_key: secret.into(),
            session_token: None,
            region: "us-east-1".into(),
            endpoint: Some("http://127.0.0.1:9".into()),
            max_retries: Some(0),
        };
        let (Ok(a), Ok(b), Ok(c)) = (
            Iam::connect(config("s1")),
            Iam::connect(config("s1")),
            Iam::connect(config("s2")),
        ) else {
            panic!("valid configs refused");
        };
        assert!(a.same_client(&b));
        assert!(!a.same_client(&c));
    }
}
