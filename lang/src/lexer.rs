//! Tokens of Strata source (section 2). (Being written.)
