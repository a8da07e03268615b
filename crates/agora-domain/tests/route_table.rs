//! The route table against the project's API description
//! (docs/openapi.yaml): each route's name, method and path; which routes
//! may be sent twice, stream, or carry their verdict in their data; how
//! paths are matched.

#![allow(clippy::unwrap_used)]

use agora_domain::routes::{Method, Route, delta_path_date, parse_delta_path_date};

/// (operationId, METHOD, path) of every AgoraPlus operation of the spec.
fn documented() -> Vec<(String, String, String)> {
    let spec = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/openapi.yaml"
    ))
    .unwrap();
    let mut out = Vec::new();
    let (mut path, mut method) = (String::new(), String::new());
    for line in spec.lines() {
        if let Some(p) = line.strip_prefix("  /").and_then(|p| p.strip_suffix(':')) {
            path = format!("/{p}");
        } else if let Some(m) = line.strip_prefix("    ").and_then(|m| m.strip_suffix(':')) {
            method = m.to_uppercase();
        } else if let Some(id) = line.trim().strip_prefix("operationId: ") {
            if path.starts_with("/api/") {
                out.push((id.to_owned(), method.clone(), path.clone()));
            }
        }
    }
    out
}

#[test]
fn every_route_is_named_sent_and_placed_as_documented() {
    let routes: Vec<(String, String, String)> = Route::ALL
        .iter()
        .map(|r| {
            (
                r.name().to_owned(),
                r.method().as_str().to_owned(),
                r.path().to_owned(),
            )
        })
        .collect();
    let mut routes = routes;
    let mut documented = documented();
    assert_eq!(documented.len(), 14);
    // The document lists its paths in order.
    routes.sort_by(|a, b| a.2.cmp(&b.2));
    documented.sort_by(|a, b| a.2.cmp(&b.2));
    assert_eq!(routes, documented);
    assert_eq!(Method::Get.as_str(), "GET");
    assert_eq!(Method::Post.as_str(), "POST");
}

#[test]
fn what_each_route_may_do() {
    let names = |pick: fn(Route) -> bool| -> Vec<&'static str> {
        Route::ALL
            .iter()
            .copied()
            .filter(|r| pick(*r))
            .map(Route::name)
            .collect()
    };
    assert_eq!(
        names(|r| !r.is_idempotent()),
        [
            "CreateRepair",
            "PlaceRepairSparepartOrder",
            "CreateWarrantyClaims",
            "CreateeInvoice"
        ]
    );
    assert_eq!(
        names(Route::is_delta),
        ["PrintManufacturerSpareParts", "PrintManufacturerProducts"]
    );
    assert_eq!(
        names(Route::data_carries_verdict),
        ["CreateWarrantyClaims", "UpdateWarrantyClaim"]
    );
}

#[test]
fn paths_match_their_route_only() {
    for route in Route::ALL {
        let concrete = route
            .path()
            .replace("{ManufacturerId}", "19")
            .replace("{Date}", "01-31-2020")
            .replace("{Language}", "English");
        assert_eq!(
            Route::match_path(route.method(), &concrete),
            Some(*route),
            "{concrete}"
        );
        assert_eq!(
            Route::match_path(route.method(), &format!("{}/", concrete.to_lowercase())),
            Some(*route),
            "{concrete}, any case, a trailing slash"
        );
        let other = match route.method() {
            Method::Get => Method::Post,
            Method::Post => Method::Get,
        };
        assert_eq!(Route::match_path(other, &concrete), None, "{concrete}");
        assert!(route.matches(&concrete));
    }
    let parts = "/api/Product/PrintManufacturerSpareParts";
    for bad in [
        parts.to_owned(),
        format!("{parts}/"),
        format!("{parts}/19"),
        format!("{parts}/19/01-01-2020"),
        format!("{parts}/19//English"),
        format!("{parts}/19/01-01-2020/English/x"),
        format!("{parts}x/19/01-01-2020/English"),
        "/api/Product/PrintManufacturerSparePart/19/01-01-2020/English".to_owned(),
        "/api/Repair/GetNewMandatesX".to_owned(),
        "/api/Repair/GetNewMandate".to_owned(),
        "/api/Product/PrintManufacturerSpareParts\u{e9}/19/01-01-2020/English".to_owned(),
        "/api/Prod\u{e9}".to_owned(),
    ] {
        assert_eq!(Route::match_path(Method::Get, &bad), None, "{bad}");
    }
}

#[test]
fn delta_dates_read_and_write_month_day_year() {
    for (date, text) in [
        (jiff::civil::date(2020, 1, 31), "01-31-2020"),
        (jiff::civil::date(2024, 12, 5), "12-05-2024"),
        (jiff::civil::date(999, 2, 3), "02-03-0999"),
    ] {
        assert_eq!(delta_path_date(date), text);
        assert_eq!(parse_delta_path_date(text), Some(date));
    }
    assert_eq!(
        parse_delta_path_date("1-2-2020"),
        Some(jiff::civil::date(2020, 1, 2))
    );
    for bad in [
        "",
        "01-31",
        "13-01-2020",
        "02-30-2020",
        "a-b-c",
        "01-31-2020-",
        "2020-01-31",
    ] {
        assert_eq!(parse_delta_path_date(bad), None, "{bad}");
    }
}
