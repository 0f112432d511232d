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
    /// What Stripe must charge per unit, in the currency's smallest unit (cents), and
    /// in which currency: a paid session whose line item says otherwise grants
    /// nothing. `None` skips the check (the price id still must match).
    #[serde(default)]
    pub amount: Option<i64>,
    #[serde(default)]
    pub currency: Option<String>,
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

fn offer(name: &str, credits: i64, price: &str, cents: i64) -> Offer {
    Offer {
        name: name.into(),
        price_id: None,
        credits,
        price: price.into(),
        amount: Some(cents),
        currency: Some("usd".into()),
    }
}

impl Default for Catalog {
    /// starter / growth / pro, and two credit packs.
    fn default() -> Self {
        Self {
            plans: vec![
                offer("starter", 1_000, "$29/month", 2_900),
                offer("growth", 5_000, "$99/month", 9_900),
                offer("pro", 20_000, "$299/month", 29_900),
            ],
            addons: vec![
                offer("small", 500, "$19", 1_900),
                offer("large", 2_500, "$79", 7_900),
            ],
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
                    "OUTREACH_PLANS is not valid: {e} (expected {{\"plans\": [{{\"name\", \"price_id\", \"credits\", \"price\", \"amount\", \"currency\"}}], \"addons\": [...]}})"
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

    /// The plan or add-on sold at this Stripe price.
    pub fn by_price(&self, price_id: &str) -> Option<(OfferKind, &Offer)> {
        self.plan_by_price(price_id)
            .map(|o| (OfferKind::Plan, o))
            .or_else(|| {
                self.addons
                    .iter()
                    .find(|o| o.price_id.as_deref() == Some(price_id))
                    .map(|o| (OfferKind::Addon, o))
            })
    }

    /// The plan sold at this Stripe price (subscription events name prices, not plans).
    pub fn plan_by_price(&self, price_id: &str) -> Option<&Offer> {
        self.plans
            .iter()
            .find(|o| o.price_id.as_deref() == Some(price_id))
    }
}
