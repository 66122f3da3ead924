//! Opt-outs: how a number came to be on a tenant's list, and the keywords people reply with.

use serde::{Deserialize, Serialize};

super::text_enum! {
    /// How a number came to opt out.
    #[derive(Serialize, Deserialize, utoipa::ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum OptOutSource {
        /// Its owner replied STOP (or another opt-out keyword).
        Inbound = "inbound",
        /// Added by a member of the tenant (the API or the admin app).
        Manual = "manual",
        /// Imported from a CSV list.
        Import = "import",
    }
}

super::text_enum! {
    /// What an inbound message's keyword does.
    #[derive(Serialize, Deserialize, utoipa::ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum Keyword {
        /// STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT: the sender opts out.
        OptOut = "opt_out",
        /// START, YES, UNSTOP: the sender opts back in.
        OptIn = "opt_in",
        /// HELP: nothing is answered (by default).
        Help = "help",
    }
}

const OPT_OUT: [&str; 6] = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"];
const OPT_IN: [&str; 3] = ["START", "YES", "UNSTOP"];

impl Keyword {
    /// The keyword a whole message body is, ignoring case, spaces around it and trailing
    /// punctuation (`" Stop. "` is STOP; `"stop sending me these"` is no keyword: it is a
    /// message, as carriers read it).
    pub fn of(body: &str) -> Option<Keyword> {
        let word: String = body
            .trim()
            .trim_end_matches(['.', '!', '?'])
            .trim()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_uppercase();
        if OPT_OUT.contains(&word.as_str()) {
            Some(Keyword::OptOut)
        } else if OPT_IN.contains(&word.as_str()) {
            Some(Keyword::OptIn)
        } else if word == "HELP" {
            Some(Keyword::Help)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_ignore_case_and_space() {
        for body in [
            "STOP",
            "stop",
            " Stop ",
            "s t o p",
            "Stop.",
            "STOPALL",
            "unsubscribe",
            "Cancel",
            "end",
            "QUIT!",
        ] {
            assert_eq!(Keyword::of(body), Some(Keyword::OptOut), "{body:?}");
        }
        for body in ["START", "yes", " Unstop "] {
            assert_eq!(Keyword::of(body), Some(Keyword::OptIn), "{body:?}");
        }
        assert_eq!(Keyword::of("help"), Some(Keyword::Help));
        for body in ["", "stop it please", "Yes please", "STOPP", "hello"] {
            assert_eq!(Keyword::of(body), None, "{body:?}");
        }
        for s in OptOutSource::ALL {
            assert_eq!(OptOutSource::parse(s.as_str()), Some(s));
        }
    }
}
