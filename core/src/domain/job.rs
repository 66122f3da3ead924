//! What a job (work that runs later and may fail) does.

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    diesel::expression::AsExpression,
    diesel::deserialize::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum JobKind {
    /// Mail a budget alert (the job's subject) to the tenant's owners and billing members.
    BudgetAlertMail,
}

impl JobKind {
    pub const ALL: [JobKind; 1] = [JobKind::BudgetAlertMail];

    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::BudgetAlertMail => "budget_alert_mail",
        }
    }

    pub fn parse(s: &str) -> Option<JobKind> {
        JobKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for JobKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

super::text_column!(JobKind);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in JobKind::ALL {
            assert_eq!(JobKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(JobKind::parse("mail"), None);
    }
}
