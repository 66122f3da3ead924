//! Live or test: an API key's mode, and the mode of every message sent with it.

use serde::{Deserialize, Serialize};

super::text_enum! {
    #[derive(Default, Serialize, Deserialize, utoipa::ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum KeyMode {
        /// Real providers, billed.
        #[default]
        Live = "live",
        /// The sandbox provider only, never billed.
        Test = "test",
    }
}

impl KeyMode {
    pub fn is_test(self) -> bool {
        self == KeyMode::Test
    }
}
