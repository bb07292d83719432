//! RAM wildcards: `*` matches any run of characters (also none), `?` exactly one. Matching
//! is iterative with one backtrack point, so a hostile pattern cannot make it exponential.

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern(Vec<char>);

impl Pattern {
    pub(crate) fn new(p: &str) -> Self {
        Self(p.chars().collect())
    }

    pub(crate) fn matches(&self, text: &str) -> bool {
        let (p, t): (&[char], Vec<char>) = (&self.0, text.chars().collect());
        let (mut pi, mut ti) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while ti < t.len() {
            if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
                pi += 1;
                ti += 1;
            } else if pi < p.len() && p[pi] == '*' {
                star = Some((pi, ti));
                pi += 1;
            } else if let Some((sp, st)) = star {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            } else {
                return false;
            }
        }
        p[pi..].iter().all(|c| *c == '*')
    }
}
