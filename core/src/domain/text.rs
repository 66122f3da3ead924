//! Text Postgres can store. Any UTF-8 goes into `text` and `jsonb` except the NUL character,
//! which both refuse; input is checked for it before it reaches a statement shared with other
//! requests (a group commit), where the refusal would fail them all.

/// Whether `s` can be stored as it is.
pub fn storable(s: &str) -> bool {
    !s.contains('\0')
}

/// The path (`a.b[2]`) of the first string, object key included, in `value` that cannot be
/// stored, or None when all of it can.
pub fn unstorable_in_json(value: &serde_json::Value) -> Option<String> {
    fn walk(value: &serde_json::Value, path: &mut String) -> bool {
        match value {
            serde_json::Value::String(s) => !storable(s),
            serde_json::Value::Array(items) => items.iter().enumerate().any(|(i, item)| {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                let bad = walk(item, path);
                if !bad {
                    path.truncate(len);
                }
                bad
            }),
            serde_json::Value::Object(map) => map.iter().any(|(k, v)| {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&k.replace('\0', "\\u0000"));
                let bad = !storable(k) || walk(v, path);
                if !bad {
                    path.truncate(len);
                }
                bad
            }),
            _ => false,
        }
    }
    let mut path = String::new();
    walk(value, &mut path).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nul_is_the_one_character_postgres_refuses() {
        assert!(storable("héllo 👋 \u{1}\u{7f}\u{ffff}"));
        assert!(!storable("a\0b"));
    }

    #[test]
    fn the_path_to_a_nul_in_json_is_named() {
        assert_eq!(
            unstorable_in_json(&json!({"a": [1, "x", {"b": "c"}]})),
            None
        );
        assert_eq!(
            unstorable_in_json(&json!({"a": [1, "x", {"b": "c\u{0}"}]})),
            Some("a[2].b".into())
        );
        assert_eq!(
            unstorable_in_json(&json!({"ok": 1, "k\u{0}": 1})),
            Some("k\\u0000".into())
        );
        assert_eq!(unstorable_in_json(&json!("\u{0}")), Some(String::new()));
    }
}
