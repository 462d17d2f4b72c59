//! What the files a commit changes say about it, where its message says too little.
//!
//! A commit whose every changed file is of one sort is classified by them when its message
//! follows no convention ([`crate::parse`] decides when): `Fix the race` that touches only
//! `tests/` fixes a test, `Update` that touches only `Cargo.lock` updates dependencies.
//!
//! | files | sort | kind |
//! |---|---|---|
//! | `.github/workflows/`, `.github/actions/`, `.github/dependabot.yml`, `.gitlab-ci.yml`, `.gitlab/ci/`, `.circleci/`, `.travis.yml`, `azure-pipelines.yml`, `.azure-pipelines/`, `appveyor.yml`, `.buildkite/`, `.drone.yml`, `.cirrus.yml`, `Jenkinsfile`, `bitbucket-pipelines.yml`, `.woodpecker/`, top-level `ci/` and `.ci/` | [`Files::Ci`] | CI |
//! | `Cargo.lock`, `package-lock.json`, `npm-shrinkwrap.json`, `yarn.lock`, `pnpm-lock.yaml`, `bun.lock`, `bun.lockb`, `deno.lock`, `poetry.lock`, `Pipfile.lock`, `uv.lock`, `pdm.lock`, `Gemfile.lock`, `composer.lock`, `go.sum`, `mix.lock`, `pubspec.lock`, `Podfile.lock`, `packages.lock.json`, `gradle.lockfile`, `flake.lock` | [`Files::Lockfiles`] | build (dependencies) |
//! | under a `test`, `tests`, `testing`, `testdata`, `test-data`, `__tests__`, `__snapshots__`, `spec`, `specs`, `e2e` or `fixtures` directory; `*_test.go`, `*_test.py`, `test_*.py`, `conftest.py`, `*.test.js` / `.ts` / `.jsx` / `.tsx` / `.mjs` / `.cjs`, `*.spec.*` of the same, `*_spec.rb`, `*Test.java` / `.kt`, `*Tests.java` / `.kt` / `.cs` / `.swift`, `test.rs`, `tests.rs` | [`Files::Tests`] | test |
//! | under a `doc`, `docs`, `documentation` or `man` directory; `*.md`, `*.markdown`, `*.rst`, `*.adoc`, `*.asciidoc`; `README*`, `CHANGELOG*`, `CONTRIBUTING*`, `AUTHORS*`, `LICENSE*`, `COPYING*`, `NOTICE*` | [`Files::Documentation`] | documentation |
//!
//! A CI or test directory decides for everything under it (`tests/README.md` and
//! `tests/fixtures/Cargo.lock` are tests, `.github/workflows/x.md` is CI); otherwise the rows
//! are tried in order. Everything else is source, and one source file among the changes means the files do
//! not decide.

use serde::{Deserialize, Serialize};

/// The sort of every file a commit changes, when they are all of one sort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Files {
    /// Tests, test data and fixtures.
    Tests,
    /// Documentation.
    Documentation,
    /// Continuous-integration configuration.
    Ci,
    /// Dependency lock files.
    Lockfiles,
}

impl Files {
    /// The sort of everything under a directory (a path from the repository root, components
    /// joined with `/`, `""` for the root), whatever it is named: CI directories and test
    /// directories; `None` when the names of what is under it decide.
    #[must_use]
    pub fn of_dir(dir: &str) -> Option<Self> {
        if dir.is_empty() {
            return None;
        }
        let mut with_slash = String::with_capacity(dir.len() + 1);
        with_slash.push_str(dir);
        with_slash.push('/');
        if CI_DIRS.iter().any(|p| with_slash.starts_with(p)) {
            return Some(Self::Ci);
        }
        dir.split('/').any(is_test_dir).then_some(Self::Tests)
    }

    /// The sort of one file (a path from the repository root, components joined with `/`);
    /// `None` for source and everything else.
    #[must_use]
    pub fn of_path(path: &str) -> Option<Self> {
        let (dirs, name) = path.rsplit_once('/').unwrap_or(("", path));
        if let Some(sort) = Self::of_dir(dirs) {
            return Some(sort);
        }
        if is_ci(path) {
            return Some(Self::Ci);
        }
        if LOCKFILES.contains(&name) {
            return Some(Self::Lockfiles);
        }
        if is_test_file(name) {
            return Some(Self::Tests);
        }
        if dirs.split('/').any(is_doc_dir) || is_doc_file(name) {
            return Some(Self::Documentation);
        }
        None
    }
}

/// What a commit's changed files have been found to be so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tally {
    /// No file yet.
    #[default]
    Empty,
    /// Every file so far is of this sort.
    All(Files),
    /// The files do not decide: a source file, or files of two sorts.
    Mixed,
}

impl Tally {
    /// Adds one changed file.
    pub fn add(&mut self, path: &str) {
        match Files::of_path(path) {
            Some(sort) => self.add_sort(sort),
            None => *self = Self::Mixed,
        }
    }

    /// Adds files of a known sort (everything under a directory that decides).
    pub fn add_sort(&mut self, sort: Files) {
        *self = match *self {
            Self::Empty => Self::All(sort),
            Self::All(seen) if seen == sort => Self::All(seen),
            Self::All(_) | Self::Mixed => Self::Mixed,
        };
    }

    /// Whether more files cannot change the outcome.
    #[must_use]
    pub fn is_mixed(self) -> bool {
        self == Self::Mixed
    }

    /// The sort of every file, when they are all of one sort.
    #[must_use]
    pub fn files(self) -> Option<Files> {
        match self {
            Self::All(sort) => Some(sort),
            Self::Empty | Self::Mixed => None,
        }
    }
}

const LOCKFILES: &[&str] = &[
    "Cargo.lock",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "bun.lock",
    "bun.lockb",
    "deno.lock",
    "poetry.lock",
    "Pipfile.lock",
    "uv.lock",
    "pdm.lock",
    "Gemfile.lock",
    "composer.lock",
    "go.sum",
    "mix.lock",
    "pubspec.lock",
    "Podfile.lock",
    "packages.lock.json",
    "gradle.lockfile",
    "flake.lock",
];

/// Directories whose every file is CI configuration.
const CI_DIRS: &[&str] = &[
    ".github/workflows/",
    ".github/actions/",
    ".gitlab/ci/",
    ".circleci/",
    ".azure-pipelines/",
    ".buildkite/",
    ".woodpecker/",
    "ci/",
    ".ci/",
];

fn is_ci(path: &str) -> bool {
    const FILES: &[&str] = &[
        ".github/dependabot.yml",
        ".github/dependabot.yaml",
        ".gitlab-ci.yml",
        ".travis.yml",
        "azure-pipelines.yml",
        "appveyor.yml",
        ".appveyor.yml",
        ".drone.yml",
        ".cirrus.yml",
        "Jenkinsfile",
        "bitbucket-pipelines.yml",
        ".woodpecker.yml",
    ];
    FILES.contains(&path)
}

fn is_test_dir(dir: &str) -> bool {
    matches!(
        dir,
        "test"
            | "tests"
            | "testing"
            | "testdata"
            | "test-data"
            | "__tests__"
            | "__snapshots__"
            | "spec"
            | "specs"
            | "e2e"
            | "fixtures"
    )
}

fn is_test_file(name: &str) -> bool {
    const SCRIPT: &[&str] = &["js", "ts", "jsx", "tsx", "mjs", "cjs"];
    if matches!(name, "conftest.py" | "test.rs" | "tests.rs") {
        return true;
    }
    let Some((stem, ext)) = name.rsplit_once('.') else {
        return false;
    };
    match ext {
        "go" => stem.ends_with("_test"),
        "py" => stem.starts_with("test_") || stem.ends_with("_test"),
        "rb" => stem.ends_with("_spec") || stem.ends_with("_test"),
        "java" | "kt" => stem.ends_with("Test") || stem.ends_with("Tests"),
        "cs" | "swift" => stem.ends_with("Tests"),
        ext if SCRIPT.contains(&ext) => stem.ends_with(".test") || stem.ends_with(".spec"),
        _ => false,
    }
}

fn is_doc_dir(dir: &str) -> bool {
    matches!(dir, "doc" | "docs" | "documentation" | "man")
}

fn is_doc_file(name: &str) -> bool {
    const EXTENSIONS: &[&str] = &["md", "markdown", "rst", "adoc", "asciidoc"];
    const NAMES: &[&str] = &[
        "README",
        "CHANGELOG",
        "CONTRIBUTING",
        "AUTHORS",
        "LICENSE",
        "COPYING",
        "NOTICE",
    ];
    if let Some((_, ext)) = name.rsplit_once('.')
        && EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str())
    {
        return true;
    }
    // `README`, `LICENSE-MIT`, `COPYING.LESSER`.
    let stem = name.split(['.', '-']).next().unwrap_or(name);
    NAMES.iter().any(|n| stem.eq_ignore_ascii_case(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_path_has_its_sort() {
        let table: &[(&str, Option<Files>)] = &[
            (".github/workflows/ci.yml", Some(Files::Ci)),
            (".github/dependabot.yml", Some(Files::Ci)),
            (".gitlab-ci.yml", Some(Files::Ci)),
            (".circleci/config.yml", Some(Files::Ci)),
            ("ci/test-all.sh", Some(Files::Ci)),
            ("Jenkinsfile", Some(Files::Ci)),
            ("Cargo.lock", Some(Files::Lockfiles)),
            ("web/package-lock.json", Some(Files::Lockfiles)),
            ("go.sum", Some(Files::Lockfiles)),
            ("tests/it/main.rs", Some(Files::Tests)),
            ("tokio/tests/io_read.rs", Some(Files::Tests)),
            ("src/net/conn_test.go", Some(Files::Tests)),
            ("pkg/test_loader.py", Some(Files::Tests)),
            ("app/conftest.py", Some(Files::Tests)),
            ("ui/button.test.tsx", Some(Files::Tests)),
            ("ui/button.spec.ts", Some(Files::Tests)),
            ("spec/models/user_spec.rb", Some(Files::Tests)),
            ("src/test/java/FooTest.java", Some(Files::Tests)),
            ("src/parse/tests.rs", Some(Files::Tests)),
            ("tests/README.md", Some(Files::Tests)),
            ("tests/fixtures/Cargo.lock", Some(Files::Tests)),
            (".github/workflows/README.md", Some(Files::Ci)),
            ("src/net/testdata/cert.pem", Some(Files::Tests)),
            ("docs/guide.html", Some(Files::Documentation)),
            ("README.md", Some(Files::Documentation)),
            ("README", Some(Files::Documentation)),
            ("LICENSE-MIT", Some(Files::Documentation)),
            ("crates/io/CHANGELOG.md", Some(Files::Documentation)),
            ("book/src/intro.rst", Some(Files::Documentation)),
            ("src/main.rs", None),
            ("src/latest.rs", None),
            ("src/contest.py", None),
            ("Cargo.toml", None),
            ("src/readme_parser.rs", None),
            ("src/testing_utils.rs", None),
            ("ci.rs", None),
            ("src/ci/mod.rs", None),
        ];
        for (path, expected) in table {
            assert_eq!(Files::of_path(path), *expected, "{path}");
        }
    }

    #[test]
    fn a_tally_decides_only_for_files_of_one_sort() {
        let tally = |paths: &[&str]| {
            let mut t = Tally::default();
            for p in paths {
                t.add(p);
            }
            t
        };
        assert_eq!(tally(&[]).files(), None);
        assert_eq!(
            tally(&["tests/a.rs", "tests/b.rs"]).files(),
            Some(Files::Tests)
        );
        assert!(tally(&["tests/a.rs", "docs/b.md"]).is_mixed());
        assert!(tally(&["tests/a.rs", "src/lib.rs"]).is_mixed());
        assert!(tally(&["src/lib.rs", "tests/a.rs"]).is_mixed());
    }
}
