//! Master data: the OEMs' spare parts and products (generated, then as
//! the OEM publishes them), their deltas, product search with its
//! temporary keys, and bills of materials.

use std::collections::{BTreeMap, HashSet};

use agora_domain::{
    BomLine, CountryCode, Lcid, ManufacturerId, Product, ProductSearchHit, SparePart,
};
use jiff::Timestamp;

use super::{KeyRecord, KeyTarget, Simulator, World, clock};
use crate::catalog::GeneratedCatalog;
use crate::error::{Answer, SimError};

impl Simulator {
    /// The spare parts of `m` changed since `since`, as a lazy iterator.
    pub fn spare_parts_delta(
        &self,
        key: &str,
        m: ManufacturerId,
        since: jiff::civil::Date,
        language: Lcid,
    ) -> Result<Delta<SparePart>, SimError> {
        self.authenticate(key)?;
        let world = self.world();
        let tenant = world.tenants.get(key).ok_or(SimError::Unauthorized)?;
        Ok(self.delta(
            tenant.published_parts.get(&m),
            m,
            since,
            language,
            self.inner.catalog.size,
            |c, m, i, lang, since| (c.part_changed_at(m, i) >= since).then(|| c.part(m, i, lang)),
            |p: &SparePart| p.reference.clone().unwrap_or_default(),
        ))
    }

    /// The products of `m` changed since `since`, as a lazy iterator.
    pub fn products_delta(
        &self,
        key: &str,
        m: ManufacturerId,
        since: jiff::civil::Date,
        language: Lcid,
    ) -> Result<Delta<Product>, SimError> {
        self.authenticate(key)?;
        let world = self.world();
        let tenant = world.tenants.get(key).ok_or(SimError::Unauthorized)?;
        Ok(self.delta(
            tenant.published_products.get(&m),
            m,
            since,
            language,
            self.inner.catalog.products(),
            |c, m, j, lang, since| {
                (c.product_changed_at(m, j) >= since).then(|| c.product(m, j, lang))
            },
            |p: &Product| p.commercial_ref.clone().unwrap_or_default(),
        ))
    }

    /// A delta over `end` generated records and the OEM's published ones.
    #[allow(clippy::too_many_arguments)]
    fn delta<T: Clone>(
        &self,
        published: Option<&BTreeMap<String, (T, Timestamp)>>,
        m: ManufacturerId,
        since: jiff::civil::Date,
        language: Lcid,
        end: u64,
        make: fn(GeneratedCatalog, ManufacturerId, u64, Lcid, Timestamp) -> Option<T>,
        key_of: fn(&T) -> String,
    ) -> Delta<T> {
        let since = day_start(since);
        let overridden: HashSet<String> = published
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        let changed: Vec<T> = published
            .map(|p| {
                p.values()
                    .filter(|(_, at)| *at >= since)
                    .map(|(r, _)| r.clone())
                    .collect()
            })
            .unwrap_or_default();
        Delta {
            catalog: self.inner.catalog,
            m,
            language,
            since,
            next: 0,
            end,
            overridden,
            published: changed.into_iter(),
            make,
            key_of,
        }
    }

    /// `SearchProductByRef`: products whose commercial or technical
    /// reference is `keyword`, each with a new temporary key.
    pub fn search_products(
        &self,
        key: &str,
        m: ManufacturerId,
        keyword: &str,
        _country: CountryCode,
    ) -> Result<Answer<Vec<ProductSearchHit>>, SimError> {
        self.authenticate(key)?;
        if keyword.trim().is_empty() {
            return Err(SimError::BadRequest("keyWord is required".to_owned()));
        }
        let catalog = self.inner.catalog;
        let base = self.base_now();
        let mut world = self.world();
        let World {
            tenants,
            rng,
            clock,
            ..
        } = &mut *world;
        let tenant = tenants.get_mut(key).ok_or(SimError::Unauthorized)?;
        let now = clock::tenant_now(clock, tenant, base);
        tenant.evict_keys(now);
        let expires = now + self.inner.key_ttl;
        let mut found: Vec<(ProductSearchHit, KeyTarget)> = Vec::new();
        if let Some(products) = tenant.published_products.get(&m) {
            for (commercial, (p, _)) in products {
                if p.commercial_ref.as_deref() == Some(keyword)
                    || p.technical_ref.as_deref() == Some(keyword)
                {
                    found.push((
                        ProductSearchHit {
                            commercial_ref: p.commercial_ref.clone(),
                            technical_ref: p.technical_ref.clone(),
                            label: p.label.clone(),
                            ..ProductSearchHit::default()
                        },
                        KeyTarget::Published(commercial.clone()),
                    ));
                }
            }
        }
        if found.is_empty() {
            if let Some(j) = catalog.product_index(m, keyword) {
                found.push((catalog.hit(m, j), KeyTarget::Generated(j)));
            }
        }
        let mut hits = Vec::with_capacity(found.len());
        for (mut hit, target) in found {
            // The key carries its expiry, so that once evicted it is still
            // answered as expired rather than unknown.
            let token = format!("PK-{:016x}-{}", rng.u64(..), expires.as_second());
            tenant.key_expiry.insert((expires, token.clone()));
            tenant.keys.insert(
                token.clone(),
                KeyRecord {
                    manufacturer: m,
                    product: target,
                    expires,
                },
            );
            hit.product_key = Some(token);
            hits.push(hit);
        }
        Ok(Answer::ok(hits))
    }

    /// `PrintBOMData` for a temporary key.
    pub fn bom(&self, key: &str, product_key: &str) -> Result<Answer<Vec<BomLine>>, SimError> {
        let record = self.with_tenant(key, |t, _, now| {
            let record = t.keys.get(product_key).cloned();
            // Evicted at its expiry: a key the simulator no longer holds
            // whose own expiry has passed is answered as expired.
            match record {
                Some(r) if r.expires > now => Ok(r),
                Some(_) => Err(SimError::KeyExpired),
                None if token_expired(product_key, now) => Err(SimError::KeyExpired),
                None => Err(SimError::NotFound(format!("no product key {product_key}"))),
            }
        })?;
        let lines = match &record.product {
            KeyTarget::Generated(j) => self.inner.catalog.bom(record.manufacturer, *j),
            KeyTarget::Published(commercial) => {
                let h = crate::catalog::mix(
                    commercial
                        .bytes()
                        .fold(0u64, |a, b| a.wrapping_mul(31) ^ u64::from(b)),
                );
                self.inner.catalog.bom(
                    record.manufacturer,
                    h % self.inner.catalog.products().max(1),
                )
            }
        };
        Ok(Answer::ok(lines))
    }

    /// The OEM publishes or changes spare parts to the account `key` (their
    /// change date is the account's now). Every record needs a
    /// `Reference`; otherwise none is published.
    pub fn publish_spare_parts(
        &self,
        key: &str,
        m: ManufacturerId,
        parts: Vec<SparePart>,
    ) -> Result<usize, SimError> {
        self.with_account(key, |t, _, now| {
            publish(
                t.published_parts.entry(m).or_default(),
                parts,
                now,
                "spare part",
                |p| p.reference.as_deref(),
            )
        })
    }

    /// The OEM publishes or changes products to the account `key` (their
    /// change date is the account's now). Every record needs a
    /// `CommercialRef`; otherwise none is published.
    pub fn publish_products(
        &self,
        key: &str,
        m: ManufacturerId,
        products: Vec<Product>,
    ) -> Result<usize, SimError> {
        self.with_account(key, |t, _, now| {
            publish(
                t.published_products.entry(m).or_default(),
                products,
                now,
                "product",
                |p| p.commercial_ref.as_deref(),
            )
        })
    }
}

/// Publishes records by key, all or none.
fn publish<T>(
    target: &mut BTreeMap<String, (T, Timestamp)>,
    records: Vec<T>,
    now: Timestamp,
    what: &str,
    key_of: impl Fn(&T) -> Option<&str>,
) -> Result<usize, SimError> {
    let keyed: Vec<(String, T)> = records
        .into_iter()
        .enumerate()
        .map(|(i, r)| match key_of(&r).filter(|k| !k.is_empty()) {
            Some(k) => Ok((k.to_owned(), r)),
            None => Err(SimError::BadRequest(format!(
                "{what} {i} has no key: nothing published"
            ))),
        })
        .collect::<Result<_, _>>()?;
    let n = keyed.len();
    for (key, record) in keyed {
        target.insert(key, (record, now));
    }
    Ok(n)
}

/// Whether a product key of the simulator's shape (`PK-HEX-EXPIRY`) has
/// expired at `now`.
fn token_expired(token: &str, now: Timestamp) -> bool {
    token
        .rsplit_once('-')
        .filter(|(head, _)| head.starts_with("PK-"))
        .and_then(|(_, secs)| secs.parse::<i64>().ok())
        .is_some_and(|secs| secs <= now.as_second())
}

fn day_start(date: jiff::civil::Date) -> Timestamp {
    jiff::tz::TimeZone::UTC
        .to_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A master-data delta produced lazily: generated records whose change
/// date is on or after `since` (unless the OEM republished them), then the
/// OEM's published records changed since then.
pub struct Delta<T> {
    catalog: GeneratedCatalog,
    m: ManufacturerId,
    language: Lcid,
    since: Timestamp,
    next: u64,
    end: u64,
    overridden: HashSet<String>,
    published: std::vec::IntoIter<T>,
    make: fn(GeneratedCatalog, ManufacturerId, u64, Lcid, Timestamp) -> Option<T>,
    key_of: fn(&T) -> String,
}

impl<T> Iterator for Delta<T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        while self.next < self.end {
            let i = self.next;
            self.next += 1;
            if let Some(record) = (self.make)(self.catalog, self.m, i, self.language, self.since) {
                if self.overridden.is_empty() || !self.overridden.contains(&(self.key_of)(&record))
                {
                    return Some(record);
                }
            }
        }
        self.published.next()
    }
}
