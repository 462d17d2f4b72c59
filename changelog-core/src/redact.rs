//! Credentials taken out of URLs and text before they are shown or stored.
//!
//! - [`url`]: a URL as messages and stored records may show it. Userinfo of any form goes
//!   (`https://TOKEN@host`, `https://user:pw@host`, passwords holding `/ # ? @`), and so do
//!   query parameters that look like secrets (`access_token`, `password`, `sslpassword`,
//!   `api_key`, `sig`, ...). PostgreSQL URLs keep the user name (a role, useful in a message)
//!   and lose the password; a scheme-less `user:pw@host:5432/db` loses its password too.
//! - [`secrets`]: the secret strings a URL carries, and [`scrub`]: those strings (raw,
//!   percent-decoded and percent-encoded) replaced in arbitrary text, such as a program's error
//!   output, which may quote the URL in a form [`url`] cannot recognise
//!   (git prints `'http://TOKEN@host'` without the path).

/// What a secret is replaced with in scrubbed text.
pub const MASK: &str = "***";

/// Query parameter names that carry a secret whatever their value (compared ignoring case).
const SECRET_PARAMETERS: &[&str] = &[
    "access_token",
    "refresh_token",
    "id_token",
    "private_token",
    "token",
    "auth",
    "authorization",
    "password",
    "passwd",
    "pwd",
    "pass",
    "sslpassword",
    "sslkey",
    "api_key",
    "apikey",
    "api-key",
    "key",
    "sig",
    "signature",
    "secret",
    "client_secret",
    "credential",
    "credentials",
    "session",
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
];

/// Whether a query parameter of this name carries a secret.
fn is_secret_parameter(name: &str) -> bool {
    let name = percent_decode(name).to_ascii_lowercase();
    SECRET_PARAMETERS.contains(&name.as_str())
        || ["token", "secret", "password", "passwd", "api_key", "apikey"]
            .iter()
            .any(|part| name.contains(part))
}

/// The parts of a URL, as far as redaction needs them.
struct Parts<'a> {
    /// `https`, `postgres`, ...; empty for a scheme-less `user:pw@host/...`.
    scheme: &'a str,
    /// Everything before the `@` that ends the authority's userinfo.
    userinfo: Option<&'a str>,
    /// The host (and port), the path, the query and the fragment.
    rest: &'a str,
}

impl<'a> Parts<'a> {
    fn split(text: &'a str) -> Self {
        let (scheme, after) = match text.split_once("://") {
            Some((scheme, after)) if is_scheme(scheme) => (scheme, after),
            // `user:pw@host:5432/db`: libpq and several tools accept it without a scheme.
            _ => ("", text),
        };
        Self {
            scheme,
            userinfo: userinfo_end(after).map(|at| &after[..at]),
            rest: userinfo_end(after).map_or(after, |at| &after[at + 1..]),
        }
    }

    /// PostgreSQL URLs, and scheme-less text, whose user name is shown.
    fn is_postgres(&self) -> bool {
        let scheme = self.scheme.to_ascii_lowercase();
        scheme.starts_with("postgres") || self.scheme.is_empty()
    }
}

fn is_scheme(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_alphabetic())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// Where the userinfo of `after` (the text after `scheme://`) ends: the byte index of its
/// closing `@`, if it has one.
///
/// The userinfo normally ends at the last `@` before the first `/`, `?` or `#`. Passwords are
/// often pasted without percent-encoding, so an `@` after one of those still ends the userinfo
/// when what precedes it reads as `user:password` (a colon followed by something other than a
/// port number): `postgres://me:a/b#c@db/app`.
fn userinfo_end(after: &str) -> Option<usize> {
    // A URL parser (and so git) also ends the authority of an `http(s)` URL at `\\`.
    let delimiter = after.find(['/', '?', '#', '\\']).unwrap_or(after.len());
    let within = after[..delimiter].rfind('@');
    let last_at = after.rfind('@')?;
    if last_at < delimiter {
        return Some(last_at);
    }
    let candidate = &after[..last_at];
    let Some(colon) = candidate.find(':') else {
        return within;
    };
    if colon > delimiter {
        return within;
    }
    let after_colon = &candidate[colon + 1..];
    let port_like_end = after_colon
        .find(['/', '?', '#', '\\'])
        .unwrap_or(after_colon.len());
    let port_like = &after_colon[..port_like_end];
    if !port_like.is_empty() && port_like.bytes().all(|b| b.is_ascii_digit()) {
        // `host:8080/path@x`: a port, then a path that happens to hold an `@`.
        return within;
    }
    Some(last_at)
}

/// A URL without its credentials, for messages and stored records.
///
/// ```
/// use changelog_core::redact;
/// assert_eq!(redact::url("https://user:tok@github.com/o/r.git"), "https://github.com/o/r.git");
/// assert_eq!(redact::url("postgres://me:secret@db:5432/app"), "postgres://me@db:5432/app");
/// assert_eq!(redact::url("https://h/x?access_token=abc&ref=main"), "https://h/x?ref=main");
/// ```
#[must_use]
pub fn url(text: &str) -> String {
    let parts = Parts::split(text);
    let mut shown = String::with_capacity(text.len());
    if !parts.scheme.is_empty() {
        shown.push_str(parts.scheme);
        shown.push_str("://");
    }
    // A role name is not a secret; its password is. Scheme-less text reads the same way:
    // `user:pw@host:5432/db`, or the account of an scp-like `git@host:path`. Other schemes lose
    // their userinfo whole: a user name alone may be a token.
    if let Some(userinfo) = parts.userinfo
        && parts.is_postgres()
    {
        let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
        if !user.is_empty() {
            shown.push_str(user);
            shown.push('@');
        }
    }
    shown.push_str(&without_secret_parameters(parts.rest));
    shown
}

/// `host/path?query#fragment` without the secret-looking query and fragment parameters.
fn without_secret_parameters(rest: &str) -> String {
    let (before_fragment, fragment) = match rest.split_once('#') {
        Some((before, fragment)) => (before, Some(fragment)),
        None => (rest, None),
    };
    let (base, query) = match before_fragment.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (before_fragment, None),
    };
    let mut shown = base.to_owned();
    let keep = |parameters: &str| -> String {
        parameters
            .split(['&', ';'])
            .filter(|pair| !pair.is_empty())
            .filter(|pair| !is_secret_parameter(pair.split('=').next().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join("&")
    };
    if let Some(query) = query {
        let kept = keep(query);
        if !kept.is_empty() {
            shown.push('?');
            shown.push_str(&kept);
        }
    }
    if let Some(fragment) = fragment {
        let kept = if fragment.contains('=') {
            keep(fragment)
        } else {
            fragment.to_owned()
        };
        if !kept.is_empty() {
            shown.push('#');
            shown.push_str(&kept);
        }
    }
    shown
}

/// The secret strings a URL carries: the password of its userinfo (or the whole user name when
/// there is no password: `https://TOKEN@host`), and the values of secret-looking query and
/// fragment parameters. Empty when the URL carries none.
#[must_use]
pub fn secrets(text: &str) -> Vec<String> {
    let parts = Parts::split(text);
    let mut found = Vec::new();
    if let Some(userinfo) = parts.userinfo {
        match userinfo.split_once(':') {
            Some((_, password)) => found.push(password.to_owned()),
            // scp-like `git@host:path` names an account; anything else before `@` is a token.
            None if !parts.scheme.is_empty() && !parts.is_postgres() => {
                found.push(userinfo.to_owned());
            }
            None => {}
        }
    }
    let (before_fragment, fragment) = parts.rest.split_once('#').unwrap_or((parts.rest, ""));
    let query = before_fragment
        .split_once('?')
        .map_or("", |(_, query)| query);
    for pair in query.split(['&', ';']).chain(fragment.split('&')) {
        if let Some((name, value)) = pair.split_once('=')
            && is_secret_parameter(name)
        {
            found.push(value.to_owned());
        }
    }
    found.retain(|secret| !secret.is_empty());
    found
}

/// `text` with every form of each secret replaced by [`MASK`]: as given, percent-decoded, and
/// percent-encoded (upper- and lower-case hex).
#[must_use]
pub fn scrub(text: &str, secrets: &[String]) -> String {
    let mut forms: Vec<String> = Vec::new();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        let decoded = percent_decode(secret);
        for form in [
            secret.clone(),
            decoded.clone(),
            percent_encode(&decoded, false),
            percent_encode(&decoded, true),
        ] {
            if !form.is_empty() && !forms.contains(&form) {
                forms.push(form);
            }
        }
    }
    // Longest first, so a secret is not half-replaced through a shorter form it contains.
    forms.sort_by_key(|form| std::cmp::Reverse(form.len()));
    let mut scrubbed = text.to_owned();
    for form in &forms {
        if scrubbed.contains(form.as_str()) {
            scrubbed = scrubbed.replace(form.as_str(), MASK);
        }
    }
    scrubbed
}

/// `%XX` sequences decoded (invalid ones kept as they are); bytes that are not UTF-8 replaced.
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            decoded.push(byte);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// Every byte other than unreserved characters (`A-Z a-z 0-9 - . _ ~`) percent-encoded.
fn percent_encode(text: &str, lower: bool) -> String {
    use std::fmt::Write as _;
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else if lower {
            let _ = write!(encoded, "%{byte:02x}");
        } else {
            let _ = write!(encoded, "%{byte:02X}");
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_shown_is_the_host_a_url_parser_reaches() {
        // `\\` ends an https authority: the clone goes to evil.example, so that is what shows.
        let shown = url("https://t@evil.example\\@github.com/o/r");
        assert!(shown.starts_with("https://evil.example"), "{shown}");
        assert!(!shown.contains("t@"), "{shown}");
        let parsed = reqwest::Url::parse("https://t@evil.example\\@github.com/o/r").unwrap();
        assert!(shown.contains(parsed.host_str().unwrap()), "{shown}");
        // A password holding `/` still goes whole.
        assert_eq!(url("postgres://me:a/b#c@db/app"), "postgres://me@db/app");
    }

    #[test]
    fn userinfo_of_any_form_goes() {
        for (given, shown) in [
            (
                "https://TOKEN@github.com/o/r.git",
                "https://github.com/o/r.git",
            ),
            (
                "https://user:pw@github.com/o/r.git",
                "https://github.com/o/r.git",
            ),
            ("https://user:p/w#x?y@host/o/r", "https://host/o/r"),
            ("https://user:p@ss@host/o/r", "https://host/o/r"),
            ("http://x-access-token:ghp_abc@host", "http://host"),
            ("ssh://git:secret@host:22/r.git", "ssh://host:22/r.git"),
            ("https://host/o/r.git", "https://host/o/r.git"),
            ("file:///tmp/r", "file:///tmp/r"),
            // An `@` in a path after a port is not userinfo.
            ("https://host:8443/o/r@v1", "https://host:8443/o/r@v1"),
        ] {
            assert_eq!(url(given), shown, "{given}");
        }
    }

    #[test]
    fn postgres_keeps_the_role_and_loses_the_password() {
        for (given, shown) in [
            (
                "postgres://me:secret@db:5432/app",
                "postgres://me@db:5432/app",
            ),
            ("postgresql://me:se/cr#e?t@db/app", "postgresql://me@db/app"),
            ("postgres://me:p@ss@db/app", "postgres://me@db/app"),
            ("postgres://me@db/app", "postgres://me@db/app"),
            (
                "postgres://me@db/app?sslmode=require&password=secret",
                "postgres://me@db/app?sslmode=require",
            ),
            ("postgres://db/app?password=secret", "postgres://db/app"),
            (
                "postgres://db/app?sslpassword=secret&sslmode=verify-full",
                "postgres://db/app?sslmode=verify-full",
            ),
            ("me:secret@db:5432/app", "me@db:5432/app"),
            ("git@github.com:o/r.git", "git@github.com:o/r.git"),
        ] {
            assert_eq!(url(given), shown, "{given}");
        }
    }

    #[test]
    fn secret_parameters_go() {
        for name in [
            "access_token",
            "token",
            "private_token",
            "password",
            "sslpassword",
            "api_key",
            "key",
            "sig",
            "secret",
            "client_secret",
            "X-Amz-Signature",
            "ACCESS_TOKEN",
            "gitlab_token",
        ] {
            let given = format!("https://host/p?ref=main&{name}=s3cr3t&x=1");
            let shown = url(&given);
            assert_eq!(shown, "https://host/p?ref=main&x=1", "{given}");
        }
        assert_eq!(url("https://host/p?token=a"), "https://host/p");
        assert_eq!(
            url("https://host/cb#access_token=abc&state=1"),
            "https://host/cb#state=1"
        );
        assert_eq!(url("https://host/p#readme"), "https://host/p#readme");
    }

    #[test]
    fn secrets_are_found() {
        assert_eq!(secrets("https://TOKEN@host/x"), ["TOKEN"]);
        assert_eq!(secrets("https://user:pw@host/x"), ["pw"]);
        assert_eq!(secrets("postgres://me@db/app"), Vec::<String>::new());
        assert_eq!(secrets("postgres://me:a/b@db/app"), ["a/b"]);
        assert_eq!(secrets("https://host/x?access_token=abc&ref=main"), ["abc"]);
        assert_eq!(secrets("me:pw@db:5432/app"), ["pw"]);
        assert_eq!(secrets("git@github.com:o/r.git"), Vec::<String>::new());
        assert_eq!(secrets("https://host/x"), Vec::<String>::new());
    }

    #[test]
    fn scrub_removes_every_form() {
        let found = secrets("https://user:p%40ss w@host/x");
        let text = "fatal: 'https://user:p%40ss w@host' p@ss w p%40ss%20w";
        let scrubbed = scrub(text, &found);
        assert!(!scrubbed.contains("p@ss"), "{scrubbed}");
        assert!(!scrubbed.contains("p%40ss"), "{scrubbed}");
        assert!(scrubbed.contains(MASK), "{scrubbed}");

        let token = vec!["ghp_abc/def".to_owned()];
        let scrubbed = scrub(
            "unable to access 'http://ghp_abc%2Fdef@127.0.0.1/': ghp_abc%2fdef ghp_abc/def",
            &token,
        );
        assert_eq!(
            scrubbed,
            "unable to access 'http://***@127.0.0.1/': *** ***"
        );
        assert_eq!(scrub("nothing here", &[]), "nothing here");
    }
}
