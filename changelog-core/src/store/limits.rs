//! The sizes a store accepts, and the checks every implementation (memory, SQLite, PostgreSQL)
//! runs before it writes or searches, so that all of them refuse the same input with the same
//! error. The bundled server enforces the same constants at its edge.
//!
//! Lengths are counted in characters (Unicode scalar values). Every text field also refuses the
//! NUL character: PostgreSQL cannot store it in `TEXT` or `JSONB`, and a value one backend keeps
//! must be one every backend keeps.
//!
//! Why these numbers:
//! - [`MAX_TITLE_LEN`]: titles are in a PostgreSQL btree index (`(title, id)`), whose entries
//!   must fit in a third of a page (2,704 bytes). 500 characters are at most 2,000 bytes of
//!   UTF-8; measured with 500 incompressible four-byte characters, `(title, id)` takes 2,044
//!   bytes, a quarter below the ceiling (660 such characters were still indexed, 680 refused).
//! - [`MAX_CONTENT_LEN`]: PostgreSQL's `tsvector` (over title and content) holds at most 1 MiB
//!   of lexemes; 200,000 characters are at most 800,000 bytes.
//! - [`MAX_SEARCH_LEN`] and [`MAX_SEARCH_TERMS`]: every term of a search is a join (FTS5) or a
//!   lexeme to match; 200,000 terms took minutes on SQLite.

use super::{
    ChangelogQuery, ChangelogUpdate, NewApiKey, NewChangelog, NewRepository, NewUser, StoreError,
    StoreResult, normalize_tags,
};
use crate::Changelog;

/// The longest title.
pub const MAX_TITLE_LEN: usize = 500;
/// The longest version (`v1.2.0-rc.1`).
pub const MAX_VERSION_LEN: usize = 128;
/// The longest Markdown content.
pub const MAX_CONTENT_LEN: usize = 200_000;
/// The longest repository name or URL.
pub const MAX_REPOSITORY_LEN: usize = 512;
/// The longest commit range (`v1.1.0..v1.2.0`).
pub const MAX_COMMIT_RANGE_LEN: usize = 512;
/// The longest model name.
pub const MAX_MODEL_LEN: usize = 256;
/// The longest tag, after normalisation.
pub const MAX_TAG_LEN: usize = 64;
/// The most distinct tags one changelog carries.
pub const MAX_TAGS_PER_CHANGELOG: usize = 32;
/// The most distinct tags one listing filters on.
pub const MAX_QUERY_TAGS: usize = 32;
/// The longest annotation.
pub const MAX_ANNOTATION_LEN: usize = 10_000;
/// The longest full-text search.
pub const MAX_SEARCH_LEN: usize = 1_000;
/// The most words in a full-text search.
pub const MAX_SEARCH_TERMS: usize = 32;
/// The longest user name, e-mail address, API key name or other short label (at most 1,024
/// bytes: user names, e-mail addresses and repository full names are in unique btree indexes).
pub const MAX_NAME_LEN: usize = 256;
/// The longest repository URL in the repository list.
pub const MAX_URL_LEN: usize = 2_048;

fn invalid(field: &'static str, reason: String) -> StoreError {
    StoreError::Invalid {
        what: field,
        reason,
    }
}

/// Refuses a NUL character in `value`.
pub fn check_no_nul(field: &'static str, value: &str) -> StoreResult<()> {
    match value.find('\0') {
        Some(at) => Err(invalid(
            field,
            format!(
                "contains a NUL character (at byte {at}); no text field may contain one, \
                 PostgreSQL cannot store it"
            ),
        )),
        None => Ok(()),
    }
}

/// Refuses a NUL character in `value`, or more than `max` characters.
pub fn check_text(field: &'static str, value: &str, max: usize) -> StoreResult<()> {
    check_no_nul(field, value)?;
    // Bytes bound characters from above: most values need no count.
    if value.len() > max {
        let len = value.chars().count();
        if len > max {
            return Err(invalid(
                field,
                format!("{len} characters long, more than the limit of {max}"),
            ));
        }
    }
    Ok(())
}

fn check_optional(field: &'static str, value: Option<&str>, max: usize) -> StoreResult<()> {
    value.map_or(Ok(()), |value| check_text(field, value, max))
}

/// Checks a tag list (NUL, each tag's length, the number of distinct tags) and returns it
/// normalised (see [`normalize_tags`]).
pub fn check_tags(
    field: &'static str,
    tags: &[String],
    max_count: usize,
) -> StoreResult<Vec<String>> {
    for tag in tags {
        check_no_nul(field, tag)?;
    }
    let tags = normalize_tags(tags);
    if tags.len() > max_count {
        return Err(invalid(
            field,
            format!(
                "{} distinct tags, more than the limit of {max_count}",
                tags.len()
            ),
        ));
    }
    if let Some(tag) = tags.iter().find(|t| t.chars().count() > MAX_TAG_LEN) {
        return Err(invalid(
            "tag",
            format!(
                "`{tag}` is {} characters long, more than the limit of {MAX_TAG_LEN}",
                tag.chars().count()
            ),
        ));
    }
    Ok(tags)
}

/// Refuses a NUL character anywhere in a structured document.
pub fn check_document(document: &Changelog) -> StoreResult<()> {
    let json = serde_json::to_string(document)
        .map_err(|e| invalid("document", format!("cannot be serialised: {e}")))?;
    // JSON writes a NUL inside a string as this escape, and nowhere else does it appear; text
    // that spells it has its backslash escaped, so the escape is a NUL only after an even run
    // of backslashes.
    let nul = json.match_indices("\\u0000").any(|(at, _)| {
        let backslashes = json[..at].bytes().rev().take_while(|b| *b == b'\\').count();
        backslashes.is_multiple_of(2)
    });
    if nul {
        return Err(invalid(
            "document",
            "contains a NUL character; no text field may contain one, PostgreSQL cannot store it"
                .into(),
        ));
    }
    Ok(())
}

/// Checks every field of a new changelog and returns its tags normalised.
pub fn check_new_changelog(new: &NewChangelog) -> StoreResult<Vec<String>> {
    check_text("title", &new.title, MAX_TITLE_LEN)?;
    check_optional("version", new.version.as_deref(), MAX_VERSION_LEN)?;
    check_text("content", &new.content, MAX_CONTENT_LEN)?;
    check_optional("repository", new.repository.as_deref(), MAX_REPOSITORY_LEN)?;
    check_optional(
        "commit range",
        new.commit_range.as_deref(),
        MAX_COMMIT_RANGE_LEN,
    )?;
    check_optional("model", new.model.as_deref(), MAX_MODEL_LEN)?;
    if let Some(document) = &new.document {
        check_document(document)?;
    }
    check_tags("tags", &new.tags, MAX_TAGS_PER_CHANGELOG)
}

/// Checks the fields an update sets and returns its tags normalised, if it sets them.
pub fn check_update(update: &ChangelogUpdate) -> StoreResult<Option<Vec<String>>> {
    check_optional("title", update.title.as_deref(), MAX_TITLE_LEN)?;
    check_optional(
        "version",
        update.version.as_ref().and_then(Option::as_deref),
        MAX_VERSION_LEN,
    )?;
    check_optional("content", update.content.as_deref(), MAX_CONTENT_LEN)?;
    if let Some(Some(document)) = &update.document {
        check_document(document)?;
    }
    update
        .tags
        .as_deref()
        .map(|tags| check_tags("tags", tags, MAX_TAGS_PER_CHANGELOG))
        .transpose()
}

/// Checks a listing's filters: the search text's length and number of words, the number of
/// tags, and NUL in every text.
pub fn check_query(query: &ChangelogQuery) -> StoreResult<()> {
    if let Some(text) = &query.text {
        check_text("search text", text, MAX_SEARCH_LEN)?;
        let terms = query.text_terms().len();
        if terms > MAX_SEARCH_TERMS {
            return Err(invalid(
                "search text",
                format!("{terms} words, more than the limit of {MAX_SEARCH_TERMS}"),
            ));
        }
    }
    check_optional("version", query.version.as_deref(), MAX_VERSION_LEN)?;
    check_optional(
        "repository",
        query.repository.as_deref(),
        MAX_REPOSITORY_LEN,
    )?;
    check_tags("tag filter", &query.tags, MAX_QUERY_TAGS)?;
    Ok(())
}

/// Checks an annotation's body: not blank, no NUL, at most [`MAX_ANNOTATION_LEN`] characters.
pub fn check_annotation(body: &str) -> StoreResult<()> {
    if body.trim().is_empty() {
        return Err(invalid("annotation", "the note is empty".into()));
    }
    check_text("annotation", body, MAX_ANNOTATION_LEN)
}

/// Checks the text fields of a new user.
pub fn check_new_user(user: &NewUser) -> StoreResult<()> {
    check_text("username", &user.username, MAX_NAME_LEN)?;
    check_text("email", &user.email, MAX_NAME_LEN)?;
    check_optional(
        "github username",
        user.github_username.as_deref(),
        MAX_NAME_LEN,
    )?;
    check_optional("password hash", user.password_hash.as_deref(), MAX_NAME_LEN)
}

/// Checks the name and scopes of a new API key.
pub fn check_new_api_key(key: &NewApiKey) -> StoreResult<()> {
    check_text("API key name", &key.name, MAX_NAME_LEN)?;
    for scope in &key.scopes {
        check_text("API key scope", scope, MAX_NAME_LEN)?;
    }
    Ok(())
}

/// Checks the text fields of a repository to add.
pub fn check_new_repository(repository: &NewRepository) -> StoreResult<()> {
    check_optional(
        "repository external id",
        repository.external_id.as_deref(),
        MAX_NAME_LEN,
    )?;
    check_text("repository name", &repository.name, MAX_NAME_LEN)?;
    // In a unique btree index (with the owner and provider), like titles.
    check_text("repository full name", &repository.full_name, MAX_NAME_LEN)?;
    check_text("repository url", &repository.url, MAX_URL_LEN)?;
    check_optional(
        "default branch",
        repository.default_branch.as_deref(),
        MAX_NAME_LEN,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_count_characters_and_name_the_field() {
        assert!(check_text("title", &"é".repeat(10), 10).is_ok());
        let error = check_text("title", &"é".repeat(11), 10).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid title: 11 characters long, more than the limit of 10"
        );
        let error = check_text("version", "v1\0", 10).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("invalid version: contains a NUL")
        );
    }

    #[test]
    fn the_widest_title_fits_a_postgres_index_entry_with_room_to_spare() {
        // 4 bytes per character at most, a 16-byte id, an 8-byte tuple header, 8 of alignment:
        // at least a fifth below PostgreSQL's 2,704-byte ceiling.
        let widest_entry = MAX_TITLE_LEN * 4 + 16 + 8 + 8;
        assert!(widest_entry * 5 <= 2_704 * 4, "{widest_entry} bytes");
    }
}
