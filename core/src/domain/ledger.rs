//! What a spend ledger entry records.

super::text_enum! {
    #[derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum LedgerKind {
        /// A message a provider took: its price × segments.
        Message = "message",
        /// OpenClaw's platform fee for that message: the fee per segment × segments.
        PlatformFee = "platform_fee",
    }
}
