//! "Did you mean ...?" for names typed by users: envs, algorithms, config fields, MJCF objects.

/// The candidate closest to `name` by normalised Damerau-Levenshtein similarity, when it is
/// close enough to be a plausible typo.
pub fn closest_match<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let lowered = name.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::normalized_damerau_levenshtein(&lowered, &c.to_lowercase()), c))
        .filter(|(score, _)| *score >= 0.5)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c.to_owned())
}

#[cfg(test)]
mod tests {
    use super::closest_match;

    #[test]
    fn suggests_the_nearest_plausible_name() {
        let names = ["cheetah-vel", "cheetah-dir", "ant-goal"];
        assert_eq!(closest_match("cheetah-vle", names).as_deref(), Some("cheetah-vel"));
        assert_eq!(closest_match("Ant-Goal", names).as_deref(), Some("ant-goal"));
        assert_eq!(closest_match("humanoid", names), None);
    }
}
