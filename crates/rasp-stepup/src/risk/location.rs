//! Where a client address is: a resolver trait, MaxMind databases, and the
//! great-circle distance used for impossible travel.

use std::fmt;
use std::net::IpAddr;

/// What is known about an address's location and network.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Location {
    /// ISO 3166-1 alpha-2 country code.
    pub country: Option<String>,
    /// Latitude, degrees.
    pub latitude: Option<f64>,
    /// Longitude, degrees.
    pub longitude: Option<f64>,
    /// Accuracy radius, km.
    pub accuracy_km: Option<u16>,
    /// Autonomous system number.
    pub asn: Option<u32>,
    /// Anonymity flags.
    pub anonymous: Anonymity,
}

/// Anonymous-network flags (MaxMind Anonymous IP database).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Anonymity {
    /// A Tor exit node.
    pub tor: bool,
    /// A public proxy.
    pub public_proxy: bool,
    /// An anonymous VPN.
    pub vpn: bool,
    /// A hosting or VPN provider.
    pub hosting: bool,
}

impl Anonymity {
    /// How strongly the address hides its user (0 to 1).
    pub(crate) fn confidence(&self) -> f32 {
        if self.tor {
            1.0
        } else if self.public_proxy {
            0.8
        } else if self.vpn {
            0.6
        } else if self.hosting {
            0.4
        } else {
            0.0
        }
    }
}

impl Location {
    pub(crate) fn coordinates(&self) -> Option<(f64, f64, f64)> {
        Some((
            self.latitude?,
            self.longitude?,
            f64::from(self.accuracy_km.unwrap_or(0)),
        ))
    }
}

/// Resolves addresses to locations. Implemented by [`GeoIp`]; plug in any
/// other source.
pub trait Locator: Send + Sync + 'static {
    /// What is known of `ip`; `None` when nothing is.
    fn locate(&self, ip: IpAddr) -> Option<Location>;
}

/// Great-circle distance in km (haversine, mean Earth radius).
#[must_use]
pub fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    const R: f64 = 6371.0;
    let (la1, lo1) = (a.0.to_radians(), a.1.to_radians());
    let (la2, lo2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * R * h.sqrt().min(1.0).asin()
}

/// A database could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeoIpError {
    path: String,
    reason: String,
}

impl fmt::Display for GeoIpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot load geoip database {}: {}",
            self.path, self.reason
        )
    }
}

impl std::error::Error for GeoIpError {}

/// MaxMind databases (GeoIP2/GeoLite2 City or Country, ASN, Anonymous IP),
/// each optional, loaded into memory and verified at load.
///
/// ```
/// use rasp_stepup::RiskRules;
/// use rasp_stepup::risk::GeoIp;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/geoip");
/// let geoip = GeoIp::new()
///     .with_city(format!("{dir}/GeoLite2-City-Test.mmdb"))?
///     .with_asn(format!("{dir}/GeoLite2-ASN-Test.mmdb"))?
///     .with_anonymous(format!("{dir}/GeoIP2-Anonymous-IP-Test.mmdb"))?;
/// let rules = RiskRules::default().locator(geoip);
/// # let _ = rules; Ok(()) }
/// ```
#[cfg(feature = "geoip")]
#[derive(Default)]
pub struct GeoIp {
    city: Option<maxminddb::Reader<Vec<u8>>>,
    asn: Option<maxminddb::Reader<Vec<u8>>>,
    anonymous: Option<maxminddb::Reader<Vec<u8>>>,
}

#[cfg(feature = "geoip")]
impl fmt::Debug for GeoIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeoIp")
            .field("city", &self.city.is_some())
            .field("asn", &self.asn.is_some())
            .field("anonymous", &self.anonymous.is_some())
            .finish()
    }
}

#[cfg(feature = "geoip")]
fn open(path: &std::path::Path) -> Result<maxminddb::Reader<Vec<u8>>, GeoIpError> {
    let err = |reason: String| GeoIpError {
        path: path.display().to_string(),
        reason,
    };
    let reader = maxminddb::Reader::open_readfile(path).map_err(|e| err(e.to_string()))?;
    reader
        .verify()
        .map_err(|e| err(format!("corrupt database: {e}")))?;
    Ok(reader)
}

#[cfg(feature = "geoip")]
impl GeoIp {
    /// No databases yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Loads a City or Country database.
    ///
    /// # Errors
    ///
    /// When the file cannot be read or fails verification.
    pub fn with_city(mut self, path: impl AsRef<std::path::Path>) -> Result<Self, GeoIpError> {
        self.city = Some(open(path.as_ref())?);
        Ok(self)
    }

    /// Loads an ASN database.
    ///
    /// # Errors
    ///
    /// When the file cannot be read or fails verification.
    pub fn with_asn(mut self, path: impl AsRef<std::path::Path>) -> Result<Self, GeoIpError> {
        self.asn = Some(open(path.as_ref())?);
        Ok(self)
    }

    /// Loads an Anonymous IP database.
    ///
    /// # Errors
    ///
    /// When the file cannot be read or fails verification.
    pub fn with_anonymous(mut self, path: impl AsRef<std::path::Path>) -> Result<Self, GeoIpError> {
        self.anonymous = Some(open(path.as_ref())?);
        Ok(self)
    }
}

#[cfg(feature = "geoip")]
impl Locator for GeoIp {
    fn locate(&self, ip: IpAddr) -> Option<Location> {
        use maxminddb::geoip2;
        let mut loc = Location::default();
        let mut found = false;
        if let Some(r) = &self.city
            && let Ok(res) = r.lookup(ip)
            && let Ok(Some(city)) = res.decode::<geoip2::City<'_>>()
        {
            loc.country = city.country.iso_code.map(str::to_owned);
            loc.latitude = city.location.latitude;
            loc.longitude = city.location.longitude;
            loc.accuracy_km = city.location.accuracy_radius;
            found = true;
        }
        if let Some(r) = &self.asn
            && let Ok(res) = r.lookup(ip)
            && let Ok(Some(asn)) = res.decode::<geoip2::Asn<'_>>()
        {
            loc.asn = asn.autonomous_system_number;
            found = true;
        }
        if let Some(r) = &self.anonymous
            && let Ok(res) = r.lookup(ip)
            && let Ok(Some(a)) = res.decode::<geoip2::AnonymousIp>()
        {
            loc.anonymous = Anonymity {
                tor: a.is_tor_exit_node.unwrap_or(false),
                public_proxy: a.is_public_proxy.unwrap_or(false)
                    || a.is_residential_proxy.unwrap_or(false),
                vpn: a.is_anonymous_vpn.unwrap_or(false),
                hosting: a.is_hosting_provider.unwrap_or(false),
            };
            found = true;
        }
        found.then_some(loc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn london_to_changchun_is_about_8100_km() {
        let d = distance_km((51.5142, -0.0931), (43.88, 125.3228));
        assert!((8000.0..8200.0).contains(&d), "{d}");
        assert!(distance_km((1.0, 1.0), (1.0, 1.0)).abs() < 1e-9);
    }
}
