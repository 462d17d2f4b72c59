-- A changelog's tag names, sorted, as a JSON array, kept beside the row by every write of its
-- tags: a page of changelogs reads them with the row instead of a join per row.
-- (`changelog_tags` stays the index that tag filters search.)
ALTER TABLE changelogs ADD COLUMN tag_names TEXT NOT NULL DEFAULT '[]';

UPDATE changelogs SET tag_names = (
    SELECT json_group_array(name) FROM (
        SELECT t.name FROM changelog_tags ct JOIN tags t ON t.id = ct.tag_id
        WHERE ct.changelog_id = changelogs.id ORDER BY t.name
    )
)
WHERE EXISTS (SELECT 1 FROM changelog_tags ct WHERE ct.changelog_id = changelogs.id);
