/// `MD5OfMessageBody` → `md5_of_message_body`.
pub fn snake(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1).copied();
            let boundary = match prev {
                Some(p) if p.is_ascii_lowercase() || p.is_ascii_digit() => true,
                Some(p) if p.is_ascii_uppercase() => next.is_some_and(|n| n.is_ascii_lowercase()),
                _ => false,
            };
            if boundary && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c == '-' || c == '.' {
            out.push('_');
        } else {
            out.push(c);
        }
    }
    field_ident(out)
}

fn field_ident(name: String) -> String {
    const KEYWORDS: &[&str] = &[
        "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn",
        "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref",
        "return", "self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use",
        "where", "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final",
        "macro", "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
    ];
    if KEYWORDS.contains(&name.as_str()) {
        format!("r#{name}")
    } else {
        name
    }
}

/// Shape names are already PascalCase; make them valid type names.
pub fn type_name(shape: &str) -> String {
    let mut s: String = shape
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    if matches!(
        s.as_str(),
        "String" | "Option" | "Vec" | "Result" | "Box" | "Value"
    ) {
        s.push_str("Shape");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case() {
        assert_eq!(snake("MD5OfMessageBody"), "md5_of_message_body");
        assert_eq!(snake("QueueUrl"), "queue_url");
        assert_eq!(snake("SenderFault"), "sender_fault");
        assert_eq!(
            snake("QueueOwnerAWSAccountId"),
            "queue_owner_aws_account_id"
        );
        assert_eq!(snake("Type"), "r#type");
        assert_eq!(snake("message"), "message");
    }
}
