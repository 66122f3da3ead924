//! GSM 03.38 vs UCS-2 detection and SMS segment counting.
//!
//! A body that fits the GSM 7-bit default alphabet (characters of the extension table count
//! two septets) is GSM-7: 160 septets in one SMS, 153 per part when concatenated. Anything
//! else is UCS-2: 70 UTF-16 code units in one SMS, 67 per part. An escape pair or a surrogate
//! pair is never split across parts, which can add a part to the naive count.

super::text_enum! {
    /// "GSM-7" or "UCS-2", as in the API.
    #[derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
    pub enum Encoding {
        #[serde(rename = "GSM-7")]
        Gsm7 = "GSM-7",
        #[serde(rename = "UCS-2")]
        Ucs2 = "UCS-2",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentInfo {
    pub encoding: Encoding,
    /// Septets (GSM-7, extension characters count 2) or UTF-16 code units (UCS-2).
    pub units: usize,
    pub segments: u32,
}

/// Septets a character takes in GSM-7: 1 (basic table), 2 (extension table) or None.
fn gsm_septets(c: char) -> Option<usize> {
    match c {
        // Printable ASCII in the basic table: everything but the backtick and the
        // extension characters below.
        ' '..='~' => match c {
            '`' => None,
            '^' | '{' | '}' | '\\' | '[' | ']' | '~' | '|' => Some(2),
            _ => Some(1),
        },
        '\n' | '\r' => Some(1),
        '\u{0C}' | '€' => Some(2),
        '£' | '¥' | 'è' | 'é' | 'ù' | 'ì' | 'ò' | 'Ç' | 'Ø' | 'ø' | 'Å' | 'å' | 'Δ' | 'Φ' | 'Γ'
        | 'Λ' | 'Ω' | 'Π' | 'Ψ' | 'Σ' | 'Θ' | 'Ξ' | 'Æ' | 'æ' | 'ß' | 'É' | '¤' | '¡' | 'Ä'
        | 'Ö' | 'Ñ' | 'Ü' | '§' | '¿' | 'ä' | 'ö' | 'ñ' | 'ü' | 'à' => Some(1),
        _ => None,
    }
}

/// Parts needed when each holds `per_part` units and no character may be split.
fn parts(weights: impl Iterator<Item = usize>, per_part: usize) -> u32 {
    let mut parts = 1;
    let mut used = 0;
    for w in weights {
        if used + w > per_part {
            parts += 1;
            used = 0;
        }
        used += w;
    }
    parts
}

impl SegmentInfo {
    pub fn of(body: &str) -> SegmentInfo {
        let gsm: Option<usize> = body.chars().map(gsm_septets).sum();
        match gsm {
            Some(units) => SegmentInfo {
                encoding: Encoding::Gsm7,
                units,
                segments: if units <= 160 {
                    1
                } else {
                    parts(body.chars().filter_map(gsm_septets), 153)
                },
            },
            None => {
                let units: usize = body.chars().map(char::len_utf16).sum();
                SegmentInfo {
                    encoding: Encoding::Ucs2,
                    units,
                    segments: if units <= 70 {
                        1
                    } else {
                        parts(body.chars().map(char::len_utf16), 67)
                    },
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(body: &str) -> (Encoding, usize, u32) {
        let i = SegmentInfo::of(body);
        (i.encoding, i.units, i.segments)
    }

    #[test]
    fn plain_text_is_gsm7() {
        assert_eq!(info("Hello, world!"), (Encoding::Gsm7, 13, 1));
        assert_eq!(
            info("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ!\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà").0,
            Encoding::Gsm7
        );
        assert_eq!(info(""), (Encoding::Gsm7, 0, 1));
    }

    #[test]
    fn extension_characters_count_two() {
        assert_eq!(info("€"), (Encoding::Gsm7, 2, 1));
        assert_eq!(info("[x]"), (Encoding::Gsm7, 5, 1));
        assert_eq!(info("^{}\\~|\u{0C}"), (Encoding::Gsm7, 14, 1));
    }

    #[test]
    fn anything_outside_the_alphabet_is_ucs2() {
        assert_eq!(
            info("ç").0,
            Encoding::Ucs2,
            "lower-case c-cedilla is not GSM-7"
        );
        assert_eq!(info("Ç").0, Encoding::Gsm7, "upper-case C-cedilla is");
        assert_eq!(info("`").0, Encoding::Ucs2);
        assert_eq!(info("Привет"), (Encoding::Ucs2, 6, 1));
        assert_eq!(
            info("👋"),
            (Encoding::Ucs2, 2, 1),
            "an emoji is a surrogate pair"
        );
    }

    #[test]
    fn gsm7_boundaries() {
        assert_eq!(info(&"a".repeat(160)).2, 1);
        assert_eq!(info(&"a".repeat(161)).2, 2);
        assert_eq!(info(&"a".repeat(306)).2, 2);
        assert_eq!(info(&"a".repeat(307)).2, 3);
        assert_eq!(info(&"a".repeat(459)).2, 3);
        // 159 + one extension character = 161 septets: two parts.
        assert_eq!(
            info(&format!("{}€", "a".repeat(159))),
            (Encoding::Gsm7, 161, 2)
        );
    }

    #[test]
    fn an_escape_pair_is_not_split_across_parts() {
        // 152 septets, then € (2 septets) does not fit the first part's last septet and
        // starts the second; the remaining 152 then overflow it by one.
        let body = format!("{}€{}", "a".repeat(152), "a".repeat(152));
        assert_eq!(info(&body), (Encoding::Gsm7, 306, 3));
        assert_eq!(
            info(&"a".repeat(306)).2,
            2,
            "the same length without the pair fits two"
        );
    }

    #[test]
    fn ucs2_boundaries_and_surrogates() {
        assert_eq!(info(&"ж".repeat(70)).2, 1);
        assert_eq!(info(&"ж".repeat(71)).2, 2);
        assert_eq!(info(&"ж".repeat(134)).2, 2);
        assert_eq!(info(&"ж".repeat(135)).2, 3);
        // 66 units then an emoji (2): it cannot be split at unit 67.
        let body = format!("{}👋{}", "ж".repeat(66), "ж".repeat(66));
        assert_eq!(info(&body), (Encoding::Ucs2, 134, 3));
        assert_eq!(
            info(&"ж".repeat(134)).2,
            2,
            "the same length without the pair fits two"
        );
    }
}
