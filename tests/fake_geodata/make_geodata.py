"""fake_geodata: a few lines of reverse-geocoding data in the real formats.

The Immich server's microservices worker imports `$IMMICH_BUILD_DATA/geodata/` at start and
refuses to boot without it. The real files come from geonames.org and Natural Earth, which
cannot be reached here; these are a handful of real places written in the same formats:
- cities500.txt: geonames "geoname" table, 19 tab-separated columns
  (id, name, asciiname, alternatenames, latitude, longitude, feature class, feature code,
  country code, cc2, admin1, admin2, admin3, admin4, population, elevation, dem, timezone,
  modification date);
- admin1CodesASCII.txt / admin2Codes.txt: "CC.A1[.A2]<TAB>name<TAB>asciiname<TAB>geonameid";
- ne_10m_admin_0_countries.geojson: a FeatureCollection of country polygons with the
  ADMIN / ADM0_A3 / TYPE properties the server reads;
- geodata-date.txt: the date the data was cut, compared with the imported state.

Usage: make_geodata.py OUTPUT_DIR
"""

import json
import sys
from pathlib import Path

# (geonameid, name, lat, lon, country, admin1, admin2, admin1 name, admin2 name, population)
PLACES = [
    (2988507, "Paris", 48.85341, 2.3488, "FR", "11", "75", "Ile-de-France", "Paris", 2138551),
    (2950159, "Berlin", 52.52437, 13.41053, "DE", "16", "00", "Berlin", "Berlin", 3426354),
    (3117735, "Madrid", 40.4165, -3.70256, "ES", "29", "M", "Madrid", "Provincia de Madrid", 3255944),
    (2643743, "London", 51.50853, -0.12574, "GB", "ENG", "GLA", "England", "Greater London", 8961989),
    (3169070, "Rome", 41.89193, 12.51133, "IT", "07", "RM", "Lazio", "Citta metropolitana di Roma Capitale", 2318895),
    (5128581, "New York City", 40.71427, -74.00597, "US", "NY", "061", "New York", "New York County", 8804190),
    (1850147, "Tokyo", 35.6895, 139.69171, "JP", "40", "", "Tokyo", "", 8336599),
    (2147714, "Sydney", -33.86785, 151.20732, "AU", "02", "17200", "New South Wales", "Sydney", 4627345),
]

# rough bounding boxes as polygons: enough for the point-in-polygon fallback
COUNTRIES = [
    ("France", "FRA", "Sovereign country", [(-5.0, 42.3), (8.2, 42.3), (8.2, 51.1), (-5.0, 51.1)]),
    ("Germany", "DEU", "Sovereign country", [(5.9, 47.3), (15.0, 47.3), (15.0, 55.0), (5.9, 55.0)]),
]


def write(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    cities = []
    admin1 = {}
    admin2 = {}
    for gid, name, lat, lon, cc, a1, a2, a1name, a2name, pop in PLACES:
        cols = [
            str(gid),
            name,
            name,
            "",
            f"{lat:.5f}",
            f"{lon:.5f}",
            "P",
            "PPLC",
            cc,
            "",
            a1,
            a2,
            "",
            "",
            str(pop),
            "",
            "35",
            "Europe/Paris",
            "2024-01-01",
        ]
        assert len(cols) == 19
        cities.append("\t".join(cols))
        admin1[f"{cc}.{a1}"] = (a1name, gid + 1)
        if a2:
            admin2[f"{cc}.{a1}.{a2}"] = (a2name, gid + 2)
    (out / "cities500.txt").write_text("\n".join(cities) + "\n", encoding="utf-8")
    (out / "admin1CodesASCII.txt").write_text(
        "".join(f"{code}\t{name}\t{name}\t{gid}\n" for code, (name, gid) in sorted(admin1.items())), encoding="utf-8"
    )
    (out / "admin2Codes.txt").write_text(
        "".join(f"{code}\t{name}\t{name}\t{gid}\n" for code, (name, gid) in sorted(admin2.items())), encoding="utf-8"
    )
    features = [
        {
            "type": "Feature",
            "properties": {"ADMIN": admin, "ADM0_A3": a3, "TYPE": kind},
            "geometry": {"type": "Polygon", "coordinates": [[*[list(p) for p in ring], list(ring[0])]]},
        }
        for admin, a3, kind, ring in COUNTRIES
    ]
    (out / "ne_10m_admin_0_countries.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8"
    )
    (out / "geodata-date.txt").write_text("2024-01-01T00:00:00.000000+00:00", encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    write(Path(sys.argv[1]))
