//! What can be bought: subscription plans and one-off credit add-ons, with Stripe price
//! ids, credits and the price to show. From `OUTREACH_PLANS` (JSON) or a built-in table;
//! price ids from `STRIPE_PRICE_<PLAN>` / `STRIPE_PRICE_ADDON_<NAME>` when the table has
//! none (the seed's variable names).

use outreach_core::Error as CoreError;
use serde::{Deserialize, Serialize};

/// A plan or an add-on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Offer {
    pub name: String,
    /// Stripe price id (`price_…`); without one the offer cannot be bought.
    #[serde(default)]
    pub price_id: Option<String>,
    /// Credits granted per purchase (plans: per billing period).
    pub credits: i64,
    /// The price as shown to people, e.g. `$29/month`.
    #[serde(default)]
    pub price: String,
}

/// Subscriptions or one-off purchases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferKind {
    Plan,
    Addon,
}

impl OfferKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OfferKind::Plan => "plan",
            OfferKind::Addon => "addon",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    #[serde(default)]
    pub plans: Vec<Offer>,
    #[serde(default)]
    pub addons: Vec<Offer>,
}

fn offer(name: &str, credits: i64, price: &str) -> Offer {
    Offer {
        name: name.into(),
        price_id: None,
        credits,
        price: price.into(),
    }
}

impl Default for Catalog {
    /// starter / growth / pro, and two credit packs.
    fn default() -> Self {
        Self {
            plans: vec![
                offer("starter", 1_000, "$29/month"),
                offer("growth", 5_000, "$99/month"),
                offer("pro", 20_000, "$299/month"),
            ],
            addons: vec![offer("small", 500, "$19"), offer("large", 2_500, "$79")],
        }
    }
}

impl Catalog {
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, CoreError> {
        let var = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let mut catalog = match var("OUTREACH_PLANS") {
            Some(json) => serde_json::from_str::<Catalog>(&json).map_err(|e| {
                CoreError::Config(format!(
                    "OUTREACH_PLANS is not valid: {e} (expected {{\"plans\": [{{\"name\", \"price_id\", \"credits\", \"price\"}}], \"addons\": [...]}})"
                ))
            })?,
            None => Catalog::default(),
        };
        for (kind, offers) in [("", &mut catalog.plans), ("ADDON_", &mut catalog.addons)] {
            for o in offers.iter_mut() {
                if o.credits <= 0 {
                    return Err(CoreError::Config(format!(
                        "offer `{}` must grant credits",
                        o.name
                    )));
                }
                if o.price_id.is_none() {
                    let name = format!(
                        "STRIPE_PRICE_{kind}{}",
                        o.name.to_ascii_uppercase().replace('-', "_")
                    );
                    o.price_id = var(&name);
                }
            }
        }
        Ok(catalog)
    }

    pub fn get(&self, kind: OfferKind, name: &str) -> Option<&Offer> {
        self.list(kind).iter().find(|o| o.name == name)
    }

    pub fn list(&self, kind: OfferKind) -> &[Offer] {
        match kind {
            OfferKind::Plan => &self.plans,
            OfferKind::Addon => &self.addons,
        }
    }

    /// The plan sold at this Stripe price (subscription events name prices, not plans).
    pub fn plan_by_price(&self, price_id: &str) -> Option<&Offer> {
        self.plans
            .iter()
            .find(|o| o.price_id.as_deref() == Some(price_id))
    }
}
