//! Text shown in a conversation is libpurple markup (HTML-like): names and anything a peer
//! sent are escaped before they are put into a sentence.

/// Escapes `s` for libpurple's conversation markup.
pub fn escape_markup(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("<br>"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_markup_neutralises_html() {
        assert_eq!(
            escape_markup("<b>&\"x'\n"),
            "&lt;b&gt;&amp;&quot;x&apos;<br>"
        );
    }
}
