use chrono::NaiveDate;

use super::shapes::*;
use super::*;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 6).unwrap()
}

#[test]
fn emails_and_their_look_alikes() {
    for v in [
        "anna.schmidt@example.com",
        "j+tag@mail.co.uk",
        "o'neil@x-y.org",
    ] {
        assert!(is_email(v), "{v}");
    }
    for v in [
        "anna at example dot com",
        "@handle",
        "root@localhost",
        "git@github.com:org/repo.git",
        "a@b..com",
        "support@",
        "x@y.c1",
        ".a@b.com",
    ] {
        assert!(!is_email(v), "{v}");
    }
}

#[test]
fn phones_in_international_and_national_formats_but_not_order_ids() {
    for v in [
        "+14155550132",
        "+49 30 1234567",
        "+44 7700 900123",
        "(415) 555-0132",
        "415-555-0132",
        "415.555.0132",
        "030 1234567",
        "07700 900123",
        "06 12 34 56 78",
    ] {
        assert!(is_phone(v), "{v}");
    }
    for v in [
        "4155550132",
        "ORD-2024-000123",
        "2024-01-15",
        "100-234-5678",
        "512-034-5678",
        "978-3-16-148410-0",
        "10.2.3",
        "+0 123 4567",
        "0000-123-456",
        "12 345",
        "039-00-0353",
    ] {
        assert!(!is_phone(v), "{v}");
    }
}

#[test]
fn card_numbers_need_a_network_prefix_and_the_luhn_digit() {
    for v in [
        "4111111111111111",
        "5500 0000 0000 0004",
        "3782-822463-10005",
        "6011111111111117",
    ] {
        assert!(is_payment_card(v), "{v}");
    }
    for v in [
        "4111111111111112",
        "1234567812345670",
        "5500 0000 0000 0005",
        "411111111111",
    ] {
        assert!(!is_payment_card(v), "{v}");
    }
}

#[test]
fn ibans_need_the_mod_97_checksum_and_their_country_length() {
    for v in [
        "DE89370400440532013000",
        "GB82 WEST 1234 5698 7654 32",
        "FR1420041010050500013M02606",
    ] {
        assert!(is_iban(v), "{v}");
    }
    for v in [
        "DE89370400440532013001",
        "DE8937040044053201300",
        "GB82 WEST 1234 5698 7654 33",
        "DEUTDEFF",
        "de89370400440532013000",
    ] {
        assert!(!is_iban(v), "{v}");
    }
}

#[test]
fn ip_addresses_but_not_versions_macs_or_times() {
    for v in [
        "192.168.0.1",
        "8.8.8.8",
        "2001:db8::1",
        "::1",
        "fe80::1ff:fe23:4567:890a",
        "::ffff:10.0.0.1",
    ] {
        assert!(is_ip(v), "{v}");
    }
    for v in [
        "1.2.3",
        "10.0.12.256",
        "01.02.03.04",
        "v1.2.3.4",
        "1.2.3.4.5",
        "00:1A:2B:3C:4D:5E",
        "12:30:45",
        "1::2::3",
    ] {
        assert!(!is_ip(v), "{v}");
    }
}

#[test]
fn ssn_shapes_without_the_never_issued_numbers() {
    assert!(is_ssn("123-45-6789", false));
    assert!(is_ssn("123456789", true));
    for v in [
        "123456789",
        "900-12-3456",
        "666-12-3456",
        "000-12-3456",
        "123-00-4567",
        "123-45-0000",
        "2024-01-15",
        "12-345-6789",
    ] {
        assert!(!is_ssn(v, false), "{v}");
    }
}

#[test]
fn column_names_split_into_words() {
    assert_eq!(name_words("dateOfBirth")[..3], ["date", "of", "birth"]);
    assert!(name_words("first_name").contains(&"firstname".to_owned()));
}

#[test]
fn an_email_column_is_proposed_with_its_share() {
    let mut values: Vec<String> = (0..98).map(|i| format!("user{i}@example.com")).collect();
    values.push("n/a".into());
    values.push("unknown".into());
    values.push(String::new());
    let p = detect_column("contact", &values, today());
    assert_eq!(p[0].kind, Detected::Email);
    assert_eq!((p[0].matched, p[0].sampled), (98, 100));
    assert_eq!(
        p[0].describe(),
        "looks like e-mail, 98 % of 100 sampled values"
    );
}

#[test]
fn birth_dates_need_the_name_and_a_plausible_range() {
    let dates = ["1985-03-02", "1990-12-31", "2001-07-15", "1962-01-09"];
    assert_eq!(
        detect_column("date_of_birth", &dates, today())[0].kind,
        Detected::BirthDate
    );
    assert!(detect_column("order_date", &dates, today()).is_empty());
    let future = ["2031-03-02", "2030-12-31", "2029-07-15", "2032-01-09"];
    assert!(detect_column("dob", &future, today()).is_empty());
}

#[test]
fn person_names_by_column_name_or_common_given_names() {
    let people = ["Anna Schmidt", "James Miller", "Sofia Rossi", "Wei Chen"];
    assert_eq!(
        detect_column("customer", &people, today())[0].kind,
        Detected::PersonName
    );
    let products = ["Deluxe Chair", "Blue Lamp", "Oak Table", "Soft Rug"];
    assert!(detect_column("product_name", &products, today()).is_empty());
    assert!(detect_column("title", &products, today()).is_empty());
    assert_eq!(
        detect_column("last_name", &["Schmidt", "Miller", "Rossi"], today())[0].kind,
        Detected::PersonName
    );
}

#[test]
fn a_column_of_order_ids_is_no_card_even_if_some_pass_luhn() {
    // 16-digit order numbers: about one in ten passes Luhn by chance.
    let ids: Vec<String> = (0..200u64)
        .map(|i| format!("{}", 4_000_000_000_000_000 + i * 7_919))
        .collect();
    let passing = ids.iter().filter(|v| is_payment_card(v)).count();
    assert!(passing > 0 && passing < 50, "{passing}");
    assert!(detect_column("order_id", &ids, today()).is_empty());
}

#[test]
fn corpus_lines_are_parsed_and_scored() {
    let text =
        "# c\n1\temail\temail\temail\ta@b.com\n1\temail\temail\tnone\tx\n2\tid\tnone\tnone\t42\n";
    let cols = corpus::parse(text).unwrap();
    assert_eq!(cols.len(), 2);
    let s = corpus::evaluate(&cols, today());
    let e = s.columns[&Detected::Email];
    assert_eq!(
        (e.true_positives, e.false_positives, e.false_negatives),
        (1, 0, 0)
    );
    assert_eq!(
        corpus::parse("1\ta\tbogus\tnone\tv"),
        Err(corpus::CorpusError::Label {
            line: 1,
            label: "bogus".into()
        })
    );
    assert_eq!(
        corpus::parse("1\ta"),
        Err(corpus::CorpusError::Fields { line: 1, found: 2 })
    );
}
