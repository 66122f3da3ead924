//! The one error-to-flash mapping: every core service's typed error names the field at fault
//! with its sentence (the same sentence the API gives); [`Flashable`] says, per service,
//! which field of the form that is and whether what was typed is kept, and [`Back`] carries it
//! back to the form in the flash cookie (Post/Redirect/Get).

use actix_web::HttpResponse;
use actix_web::cookie::Cookie;
use openclaw_core::accounts::AccountError;
use openclaw_core::api_keys::KeyError;
use openclaw_core::billing::settings::BillingError;
use openclaw_core::budgets::BudgetError;
use openclaw_core::members::MemberError;
use openclaw_core::opt_outs::OptOutError;
use openclaw_core::providers::service::ProviderError;
use openclaw_core::settings::SettingsError;
use openclaw_core::test_send::TestSendError;
use openclaw_core::webhooks::WebhookError;

use super::see_other;
use crate::session::{AppContext, Flash};

/// The sentence for our own failures; the cause goes to the log.
pub(crate) const INTERNAL: &str = "Something went wrong on our side; please try again.";
const INTERNAL_MOMENT: &str = "Something went wrong on our side; please try again in a moment.";

/// What a service's error means for the form that was posted.
pub(crate) enum Fault {
    /// A mistake: the field at fault (None: the form as a whole) and the sentence; `keep`:
    /// what was typed is shown again.
    Mistake {
        field: Option<String>,
        message: String,
        keep: bool,
    },
    /// Our own failure: logged; the person gets `sentence`.
    Internal {
        cause: anyhow::Error,
        sentence: &'static str,
        keep: bool,
    },
    /// Not a flash but an answer of its own (a provider gone: the list; a role refused).
    Answer(HttpResponse),
}

fn mistake(field: Option<&str>, message: String, keep: bool) -> Fault {
    Fault::Mistake {
        field: field.map(str::to_owned),
        message,
        keep,
    }
}

/// A core service's error, as the form that was posted shows it.
pub(crate) trait Flashable {
    fn fault(self) -> Fault;
}

impl Flashable for AccountError {
    fn fault(self) -> Fault {
        match self {
            AccountError::Invalid { field, message } => mistake(Some(field), message, true),
            e @ AccountError::EmailTaken => mistake(Some("email"), e.to_string(), true),
            e @ AccountError::BadCredentials => mistake(Some("password"), e.to_string(), true),
            AccountError::Internal(cause) => Fault::Internal {
                cause,
                sentence: INTERNAL_MOMENT,
                keep: true,
            },
            other => mistake(None, other.to_string(), true),
        }
    }
}

impl Flashable for KeyError {
    fn fault(self) -> Fault {
        match self {
            KeyError::Invalid { field, message } => mistake(Some(field), message, true),
            KeyError::Internal(cause) => Fault::Internal {
                cause,
                sentence: INTERNAL,
                keep: false,
            },
            other => mistake(None, other.to_string(), false),
        }
    }
}

impl Flashable for WebhookError {
    fn fault(self) -> Fault {
        match self {
            WebhookError::Invalid { field, message } => mistake(Some(field), message, true),
            WebhookError::Internal(cause) => Fault::Internal {
                cause,
                sentence: INTERNAL,
                keep: false,
            },
            other => mistake(None, other.to_string(), false),
        }
    }
}

impl Flashable for OptOutError {
    fn fault(self) -> Fault {
        match self {
            OptOutError::Invalid { field, message } => mistake(Some(field), message, true),
            OptOutError::Forbidden | OptOutError::ForbiddenToRead => {
                Fault::Answer(super::guard::not_allowed())
            }
            OptOutError::Internal(cause) => Fault::Internal {
                cause,
                sentence: INTERNAL,
                keep: true,
            },
            // Opted back in already (another tab, another person, a START reply).
            e @ OptOutError::NotFound => mistake(None, e.to_string(), false),
        }
    }
}

impl Flashable for SettingsError {
    fn fault(self) -> Fault {
        match self {
            SettingsError::Invalid { field, message } => mistake(Some(field), message, true),
            SettingsError::Internal(cause) => Fault::Internal {
                cause,
                sentence: INTERNAL,
                keep: false,
            },
            other => mistake(None, other.to_string(), true),
        }
    }
}

impl Flashable for BudgetError {
    fn fault(self) -> Fault {
        match self {
            BudgetError::Invalid { field, message } => mistake(Some(field), message, true),
            BudgetError::Internal(cause) => Fault::Internal {
                cause,
                sentence: INTERNAL,
                keep: false,
            },
            other => mistake(None, other.to_string(), true),
        }
    }
}

impl Flashable for MemberError {
    fn fault(self) -> Fault {
        match self {
            MemberError::Invalid { field, message } => mistake(Some(field), message, true),
            e @ MemberError::EmailTaken => mistake(Some("email"), e.to_string(), true),
            MemberError::Internal(cause) => Fault::Internal {
                cause,
                sentence: INTERNAL,
                keep: false,
            },
            other => mistake(None, other.to_string(), true),
        }
    }
}

impl Flashable for ProviderError {
    /// The field the service names mapped onto the form's inputs (`credentials.auth_token` is
    /// the `auth_token` input, `sender_ids[2]` the one `sender_ids` input).
    fn fault(self) -> Fault {
        match self {
            ProviderError::Invalid { field, message } => {
                let field = field.strip_prefix("credentials.").unwrap_or(&field);
                let field = field.split('[').next().unwrap_or(field);
                mistake(Some(field), message, true)
            }
            // The price form has one input for the whole list.
            ProviderError::Prices(e) => mistake(Some("csv"), e.message, true),
            ProviderError::NotFound => Fault::Answer(see_other("/providers").finish()),
            ProviderError::Forbidden(_) => Fault::Answer(super::guard::not_allowed()),
            ProviderError::Internal(cause) => Fault::Internal {
                cause,
                sentence: INTERNAL,
                keep: false,
            },
        }
    }
}

impl Flashable for TestSendError {
    fn fault(self) -> Fault {
        match self {
            TestSendError::Rejected(e) => mistake(e.field, e.message, true),
            TestSendError::Internal(cause) => Fault::Internal {
                cause,
                sentence: INTERNAL_MOMENT,
                keep: true,
            },
            e @ (TestSendError::Forbidden | TestSendError::OverBudget(_)) => {
                mistake(None, e.to_string(), true)
            }
        }
    }
}

impl Flashable for BillingError {
    fn fault(self) -> Fault {
        match self {
            BillingError::Invalid { field, message } => mistake(Some(&field), message, true),
            BillingError::Internal(cause) => Fault::Internal {
                cause,
                sentence: INTERNAL,
                keep: true,
            },
            BillingError::NoRate { field, message } => mistake(Some(&field), message, true),
            BillingError::Conflict { field, message, .. } => mistake(Some(field), message, true),
            BillingError::NotFound => mistake(Some("tenant"), self.to_string(), true),
            BillingError::Forbidden(_) => mistake(None, self.to_string(), false),
        }
    }
}

/// A fault a form names itself (for the rare form that answers differently from its
/// service's usual mapping).
impl Flashable for Fault {
    fn fault(self) -> Fault {
        self
    }
}

/// Back to a form: where it is, the flash's form name, and what was typed to show again
/// (never a password).
pub(crate) struct Back<'a> {
    ctx: &'a AppContext,
    to: String,
    form: &'static str,
    keep: Vec<(String, String)>,
}

impl<'a> Back<'a> {
    pub fn to(ctx: &'a AppContext, to: impl Into<String>, form: &'static str) -> Back<'a> {
        Back {
            ctx,
            to: to.into(),
            form,
            keep: Vec::new(),
        }
    }

    /// Values carried with the flash (what was typed, or a note's details).
    pub fn keeping<K: Into<String>>(
        mut self,
        values: impl IntoIterator<Item = (K, String)>,
    ) -> Self {
        self.keep = values.into_iter().map(|(k, v)| (k.into(), v)).collect();
        self
    }

    /// The flash cookie for `field` (a field at fault, or `saved`, `created` … for a success
    /// note) and its sentence.
    pub fn cookie(&self, field: Option<&str>, message: impl Into<String>) -> Cookie<'static> {
        self.flash(field, message.into(), true).to_cookie(self.ctx)
    }

    fn flash(&self, field: Option<&str>, message: String, keep: bool) -> Flash {
        Flash {
            form: self.form.into(),
            field: field.map(str::to_owned),
            message,
            values: if keep { self.keep.clone() } else { Vec::new() },
        }
    }

    /// Back to the form with a note on `field` (or the whole form).
    pub fn with(&self, field: Option<&str>, message: impl Into<String>) -> HttpResponse {
        see_other(&self.to)
            .cookie(self.cookie(field, message))
            .finish()
    }

    /// Back to the form with the service's answer to what was posted.
    pub fn failed(&self, e: impl Flashable) -> HttpResponse {
        let flash = match e.fault() {
            Fault::Mistake {
                field,
                message,
                keep,
            } => self.flash(field.as_deref(), message, keep),
            Fault::Internal {
                cause,
                sentence,
                keep,
            } => {
                tracing::error!(
                    error = format!("{cause:#}"),
                    form = self.form,
                    "form failed"
                );
                self.flash(None, sentence.into(), keep)
            }
            Fault::Answer(res) => return res,
        };
        see_other(&self.to)
            .cookie(flash.to_cookie(self.ctx))
            .finish()
    }
}
