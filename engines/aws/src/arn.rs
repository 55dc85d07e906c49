//! Just enough of the AWS SDK's `arn.Parse` to validate ARNs the way Vault does.

/// The parts of an ARN Vault looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn<'a> {
    /// The service, e.g. `iam`.
    pub service: &'a str,
    /// The resource, e.g. `policy/ReadOnly` or `role/deploy`.
    pub resource: &'a str,
}

/// Parses `arn:partition:service:region:account:resource` (the resource may contain
/// more colons), with the Go SDK's error messages.
pub fn parse(arn: &str) -> Result<Arn<'_>, String> {
    if !arn.starts_with("arn:") {
        return Err("arn: invalid prefix".to_string());
    }
    let sections: Vec<&str> = arn.splitn(6, ':').collect();
    if sections.len() != 6 {
        return Err("arn: not enough sections".to_string());
    }
    Ok(Arn {
        service: sections[2],
        resource: sections[5],
    })
}

/// Vault's `validateAWSManagedPolicy`: an IAM ARN whose resource is `policy/…`.
pub fn validate_managed_policy(arn: &str) -> Result<(), String> {
    let parsed = parse(arn)?;
    if parsed.service != "iam" {
        return Err(format!(
            "expected a service of iam but got {}",
            parsed.service
        ));
    }
    if !parsed.resource.starts_with("policy/") {
        return Err(format!(
            "expected a resource type of policy but got {}",
            parsed.resource
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_validates() {
        let a = parse("arn:aws:iam::123456789012:role/a:b").unwrap();
        assert_eq!((a.service, a.resource), ("iam", "role/a:b"));
        assert_eq!(parse("nope").unwrap_err(), "arn: invalid prefix");
        assert_eq!(
            parse("arn:aws:iam").unwrap_err(),
            "arn: not enough sections"
        );
        assert!(validate_managed_policy("arn:aws:iam::123456789012:policy/pb").is_ok());
        assert_eq!(
            validate_managed_policy("arn:aws:s3:::bucket").unwrap_err(),
            "expected a service of iam but got s3"
        );
        assert_eq!(
            validate_managed_policy("arn:aws:iam::1:role/x").unwrap_err(),
            "expected a resource type of policy but got role/x"
        );
    }
}
