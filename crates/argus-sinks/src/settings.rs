//! What every destination's settings need, written once: required keys, and secrets read from
//! the environment by the variable name an entry gives (never the value itself), with errors
//! that name the key and the variable but never show a value.

use argus_core::component::BuildError;
use argus_core::door::EnvDoor;

/// `value`, or an error naming `<component>.<key>` when it is missing or blank.
pub fn required(value: Option<String>, component: &str, key: &str) -> Result<String, BuildError> {
    match value {
        Some(v) if !v.trim().is_empty() => Ok(v),
        _ => Err(BuildError::config(
            format!("{component}.{key}"),
            "is required",
        )),
    }
}

/// The value of the environment variable `var` (named by the entry's `key`), or an error
/// saying which variable to set.
pub fn secret(
    env: &dyn EnvDoor,
    component: &str,
    key: &str,
    var: &str,
) -> Result<String, BuildError> {
    env.var(var).filter(|v| !v.is_empty()).ok_or_else(|| {
        BuildError::Failed(format!(
            "{component}: the environment variable {var} ({key}) is not set"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_core::door::FixedEnv;

    #[test]
    fn errors_name_the_key_and_the_variable_never_the_value() {
        let env = FixedEnv([("SET".to_owned(), "s3cr3t".to_owned())].into());
        assert_eq!(
            secret(&env, "sinks.x", "token_env", "SET").unwrap(),
            "s3cr3t"
        );
        let err = secret(&env, "sinks.x", "token_env", "UNSET")
            .unwrap_err()
            .to_string();
        assert!(err.contains("UNSET") && err.contains("token_env"), "{err}");
        let err = required(Some("  ".into()), "sinks.x", "url")
            .unwrap_err()
            .to_string();
        assert!(err.contains("sinks.x.url"), "{err}");
        assert_eq!(required(Some("u".into()), "sinks.x", "url").unwrap(), "u");
    }
}
