//! "Did you mean ...?" suggestions for misspelled keywords.

/// The candidate closest to `word`, if it is close enough to be a plausible typo.
pub fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let normalized = normalize(word);
    candidates
        .iter()
        .map(|c| (edit_distance(&normalized, &normalize(c)), *c))
        .filter(|(distance, c)| *distance <= threshold(c))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

/// " (did you mean `x`?)" or nothing, to append to a message.
pub fn did_you_mean(word: &str, candidates: &[&str]) -> String {
    match closest(word, candidates) {
        Some(candidate) => format!("; did you mean `{candidate}`?"),
        None => String::new(),
    }
}

// `delete_orphan` and `Delete-Orphan` are the same typo as far as a suggestion goes.
fn normalize(word: &str) -> String {
    word.trim().to_ascii_lowercase().replace(['_', ' '], "-")
}

fn threshold(candidate: &str) -> usize {
    (candidate.len() / 3).max(1)
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            let best = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
            current.push(best);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const CASCADES: &[&str] = &[
        "save-update",
        "merge",
        "delete",
        "delete-orphan",
        "all",
        "none",
    ];

    #[test]
    fn distance() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }

    #[test]
    fn suggests_close_keywords() {
        assert_eq!(closest("delete_orphan", CASCADES), Some("delete-orphan"));
        assert_eq!(closest("delete-orhpan", CASCADES), Some("delete-orphan"));
        assert_eq!(closest("save_update", CASCADES), Some("save-update"));
        assert_eq!(closest("primary", &["primary_key", "unique"]), None);
        assert_eq!(
            closest("primarykey", &["primary_key", "unique"]),
            Some("primary_key")
        );
    }

    #[test]
    fn no_suggestion_for_unrelated_words() {
        assert_eq!(closest("banana", CASCADES), None);
        assert_eq!(did_you_mean("banana", CASCADES), "");
        assert_eq!(did_you_mean("merg", CASCADES), "; did you mean `merge`?");
    }
}
