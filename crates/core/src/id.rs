//! Swedish identifiers: personnummer, samordningsnummer and organisationsnummer.
//!
//! Parse, don't validate: the only way to get one of these types is through `parse`, which checks length,
//! separator, date, Luhn check digit and (for organisations) the third digit. Values are kept normalised to
//! 12 digits. `Debug` masks the individual digits so a stray `{:?}` never puts a full number in a log.

use std::fmt;
use time::{Date, Month};

/// Why a string is not a valid identifier. Each message is one line, fit for a CLI's stderr.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("empty identifier")]
    Empty,
    #[error("wrong length: expected 10 or 12 digits, got {digits}")]
    WrongLength { digits: usize },
    #[error("unexpected character {found:?} at position {position}")]
    InvalidCharacter { found: char, position: usize },
    #[error("separator must be '-' or '+' before the last four digits")]
    MisplacedSeparator,
    #[error("wrong check digit: expected {expected}, got {found}")]
    WrongCheckDigit { expected: u8, found: u8 },
    #[error("impossible date: {reason}")]
    ImpossibleDate { reason: String },
    #[error("birth date {date} is in the future")]
    FutureDate { date: String },
    #[error("'+' separator means age 100 or more, but the 12-digit form gives a younger person")]
    InconsistentSeparator,
    #[error("not an organisation number: the third digit must be 2 or more, got {found}")]
    OrganisationThirdDigit { found: u8 },
    #[error("a 12-digit organisation number must start with 16, got {found}")]
    OrganisationPrefix { found: String },
    #[error("a samordningsnummer has day 61-91; this is a personnummer")]
    NotCoordinationNumber,
    #[error("a personnummer has day 01-31; this is a samordningsnummer")]
    NotPersonnummer,
}

/// Legal sex as recorded by the second-to-last digit (odd: male, even: female).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LegalSex {
    Male,
    Female,
}

/// A person's identity number, either kind; what a service usually accepts.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PersonId {
    /// Twelve ASCII digits, YYYYMMDDNNNC, day as written (coordination numbers keep day + 60).
    digits: String,
    birth_date: Date,
    coordination: bool,
}

/// A personnummer (folkbokförd person). Day of month 01–31.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Personnummer(PersonId);

/// A samordningsnummer (coordination number). Day of month + 60.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Samordningsnummer(PersonId);

/// An organisationsnummer, normalised to the 12-digit form with the `16` prefix.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Organisationsnummer {
    digits: String,
}

/// Any identifier ena accepts, told apart by its digits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnyId {
    Person(PersonId),
    Organisation(Organisationsnummer),
}

/// Split `input` into its digits and the separator, checking characters and where the separator sits.
fn digits_and_separator(input: &str) -> Result<(Vec<u8>, Option<char>), IdError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(IdError::Empty);
    }
    let mut digits = Vec::with_capacity(12);
    let mut separator = None;
    for (position, ch) in trimmed.chars().enumerate() {
        match ch {
            '0'..='9' => digits.push(ch as u8 - b'0'),
            '-' | '+' if separator.is_none() => {
                // The separator always stands before the last four digits.
                if trimmed.len() - position - 1 != 4 {
                    return Err(IdError::MisplacedSeparator);
                }
                separator = Some(ch);
            }
            _ => {
                return Err(IdError::InvalidCharacter { found: ch, position });
            }
        }
    }
    if digits.len() != 10 && digits.len() != 12 {
        return Err(IdError::WrongLength { digits: digits.len() });
    }
    Ok((digits, separator))
}

/// Luhn check digit over the nine digits before it (weights 2,1,2,1,…).
fn luhn_check_digit(nine: &[u8]) -> u8 {
    let sum: u32 = nine
        .iter()
        .enumerate()
        .map(|(i, &d)| {
            let v = u32::from(d) * if i % 2 == 0 { 2 } else { 1 };
            v / 10 + v % 10
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

fn check_luhn(ten: &[u8]) -> Result<(), IdError> {
    let expected = luhn_check_digit(&ten[..9]);
    if expected != ten[9] {
        return Err(IdError::WrongCheckDigit { expected, found: ten[9] });
    }
    Ok(())
}

/// `today` moved back `years` years; 29 February falls back to the 28th in a common year.
fn years_before(today: Date, years: i32) -> Date {
    let year = today.year() - years;
    today.replace_year(year).unwrap_or_else(|_| Date::from_calendar_date(year, Month::February, 28).unwrap_or(today))
}

fn calendar_date(year: i32, month: Month, raw_day: u32, day: u32) -> Result<Date, IdError> {
    u8::try_from(day).ok().and_then(|d| Date::from_calendar_date(year, month, d).ok()).ok_or_else(|| {
        IdError::ImpossibleDate { reason: format!("{year}-{:02}-{raw_day:02} has no such day", month as u8) }
    })
}

fn number(digits: &[u8]) -> u32 {
    digits.iter().fold(0, |acc, &d| acc * 10 + u32::from(d))
}

fn to_string(digits: &[u8]) -> String {
    digits.iter().map(|d| char::from(b'0' + d)).collect()
}

impl PersonId {
    /// Parse a personnummer or samordningsnummer, inferring the century of a 10-digit form from `today`.
    pub fn parse_at(input: &str, today: Date) -> Result<PersonId, IdError> {
        let (digits, separator) = digits_and_separator(input)?;
        let ten = &digits[digits.len() - 10..];
        let (yy, month, raw_day) = (number(&ten[0..2]), number(&ten[2..4]), number(&ten[4..6]));
        let coordination = raw_day > 60;
        let day = if coordination { raw_day - 60 } else { raw_day };
        let month = u8::try_from(month)
            .ok()
            .and_then(|m| Month::try_from(m).ok())
            .ok_or_else(|| IdError::ImpossibleDate { reason: format!("month {month:02}") })?;
        let birth_date = if digits.len() == 12 {
            let year = number(&digits[0..4]) as i32;
            let date = calendar_date(year, month, raw_day, day)?;
            if date > today {
                return Err(IdError::FutureDate { date: date.to_string() });
            }
            if separator == Some('+') && date > years_before(today, 100) {
                return Err(IdError::InconsistentSeparator);
            }
            date
        } else {
            // The latest date ending in `yy` that is not after the reference: today for '-' (or none),
            // today a hundred years ago for '+' (the person has turned 100).
            let reference = if separator == Some('+') { years_before(today, 100) } else { today };
            let mut year = reference.year() - reference.year().rem_euclid(100) + yy as i32;
            if year > reference.year() {
                year -= 100;
            }
            // A day that does not exist in this century's year (29 February) or lies after the reference
            // belongs to the century before.
            match calendar_date(year, month, raw_day, day) {
                Ok(date) if date <= reference => date,
                _ => calendar_date(year - 100, month, raw_day, day)?,
            }
        };
        check_luhn(ten)?;
        let normalised = format!("{:04}{}", birth_date.year(), to_string(&ten[2..]));
        Ok(PersonId { digits: normalised, birth_date, coordination })
    }

    /// Parse using today's date (UTC) for century inference.
    pub fn parse(input: &str) -> Result<PersonId, IdError> {
        PersonId::parse_at(input, time::OffsetDateTime::now_utc().date())
    }

    /// The 12-digit normalised form, YYYYMMDDNNNC.
    pub fn as_str(&self) -> &str {
        &self.digits
    }

    pub fn birth_date(&self) -> Date {
        self.birth_date
    }

    pub fn is_coordination_number(&self) -> bool {
        self.coordination
    }

    pub fn legal_sex(&self) -> LegalSex {
        if (self.digits.as_bytes()[10] - b'0') % 2 == 1 { LegalSex::Male } else { LegalSex::Female }
    }
}

impl Personnummer {
    pub fn parse_at(input: &str, today: Date) -> Result<Personnummer, IdError> {
        let id = PersonId::parse_at(input, today)?;
        if id.coordination {
            return Err(IdError::NotPersonnummer);
        }
        Ok(Personnummer(id))
    }

    pub fn parse(input: &str) -> Result<Personnummer, IdError> {
        Personnummer::parse_at(input, time::OffsetDateTime::now_utc().date())
    }

    pub fn as_person_id(&self) -> &PersonId {
        &self.0
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl Samordningsnummer {
    pub fn parse_at(input: &str, today: Date) -> Result<Samordningsnummer, IdError> {
        let id = PersonId::parse_at(input, today)?;
        if !id.coordination {
            return Err(IdError::NotCoordinationNumber);
        }
        Ok(Samordningsnummer(id))
    }

    pub fn parse(input: &str) -> Result<Samordningsnummer, IdError> {
        Samordningsnummer::parse_at(input, time::OffsetDateTime::now_utc().date())
    }

    pub fn as_person_id(&self) -> &PersonId {
        &self.0
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl Organisationsnummer {
    /// Parse `NNNNNN-NNNC`, `NNNNNNNNNC` or the same with a `16` prefix.
    pub fn parse(input: &str) -> Result<Organisationsnummer, IdError> {
        let (digits, separator) = digits_and_separator(input)?;
        if separator == Some('+') {
            return Err(IdError::InvalidCharacter { found: '+', position: input.trim().len() - 5 });
        }
        if digits.len() == 12 && digits[0..2] != [1, 6] {
            return Err(IdError::OrganisationPrefix { found: to_string(&digits[0..2]) });
        }
        let ten = &digits[digits.len() - 10..];
        if ten[2] < 2 {
            return Err(IdError::OrganisationThirdDigit { found: ten[2] });
        }
        check_luhn(ten)?;
        Ok(Organisationsnummer { digits: format!("16{}", to_string(ten)) })
    }

    /// The 12-digit form, `16NNNNNNNNNC`.
    pub fn as_str(&self) -> &str {
        &self.digits
    }

    /// The familiar 10-digit form with a hyphen, `NNNNNN-NNNC`.
    pub fn display_form(&self) -> String {
        format!("{}-{}", &self.digits[2..8], &self.digits[8..])
    }

    /// The group number (first digit): 2 state, municipalities and regions; 5 limited companies; …
    pub fn group(&self) -> u8 {
        self.digits.as_bytes()[2] - b'0'
    }

    /// What the group number means, per Skatteverket's published list.
    pub fn group_name(&self) -> &'static str {
        match self.group() {
            1 => "dödsbon",
            2 => "stat, regioner, kommuner, församlingar",
            3 => "utländska företag",
            5 => "aktiebolag",
            6 => "enkla bolag",
            7 => "ekonomiska föreningar, bostadsrättsföreningar",
            8 => "ideella föreningar, stiftelser",
            9 => "handelsbolag, kommanditbolag",
            _ => "okänd grupp",
        }
    }
}

impl AnyId {
    /// Tell an organisation number (12 digits starting with 16, or third digit ≥ 2) from a person's number.
    pub fn parse_at(input: &str, today: Date) -> Result<AnyId, IdError> {
        let (digits, _) = digits_and_separator(input)?;
        let is_org = if digits.len() == 12 { digits[0..2] == [1, 6] } else { digits[2] >= 2 };
        if is_org {
            Organisationsnummer::parse(input).map(AnyId::Organisation)
        } else {
            PersonId::parse_at(input, today).map(AnyId::Person)
        }
    }
}

fn masked(digits: &str) -> String {
    format!("{}-****", &digits[..8])
}

impl fmt::Debug for PersonId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PersonId({})", masked(&self.digits))
    }
}

impl fmt::Debug for Personnummer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Personnummer({})", masked(&self.0.digits))
    }
}

impl fmt::Debug for Samordningsnummer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Samordningsnummer({})", masked(&self.0.digits))
    }
}

impl fmt::Debug for Organisationsnummer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Organisation numbers are public; no masking needed.
        write!(f, "Organisationsnummer({})", self.display_form())
    }
}

impl fmt::Display for Organisationsnummer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display_form())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 11 - 29);

    fn check_person(input: &str, normalised: &str, coordination: bool) {
        let id = PersonId::parse_at(input, TODAY).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(id.as_str(), normalised, "{input}");
        assert_eq!(id.is_coordination_number(), coordination, "{input}");
    }

    fn check_person_err(input: &str, expected: IdError) {
        assert_eq!(PersonId::parse_at(input, TODAY), Err(expected), "{input}");
    }

    #[test]
    fn valid_person_numbers() {
        // Skatteverket-style test numbers; check digits computed by hand with Luhn.
        check_person("121212-1212", "201212121212", false);
        check_person("1212121212", "201212121212", false);
        check_person("19121212-1212", "191212121212", false);
        check_person("191212121212", "191212121212", false);
        check_person("121212+1212", "191212121212", false);
        check_person("000101-0008", "200001010008", false);
        check_person("20000101-0008", "200001010008", false);
        check_person("000101+0008", "190001010008", false);
        check_person("200002292381", "200002292381", false);
        check_person("701063-2391", "197010632391", true);
        check_person(" 19701063-2391 ", "197010632391", true);
    }

    #[test]
    fn century_inference_from_separator() {
        // 1926-11-30 turns 100 tomorrow: with '-' it is 1926 (2026-11-30 is still to come), with '+' 1826.
        assert_eq!(PersonId::parse_at("261130-0001", TODAY).unwrap().birth_date(), date!(1926 - 11 - 30));
        assert_eq!(PersonId::parse_at("261130+0001", TODAY).unwrap().birth_date(), date!(1826 - 11 - 30));
        // 1926-11-29 turned 100 today: '+' gives 1926.
        assert_eq!(PersonId::parse_at("261129+0004", TODAY).unwrap().birth_date(), date!(1926 - 11 - 29));
        assert_eq!(PersonId::parse_at("261129-0004", TODAY).unwrap().birth_date(), date!(2026 - 11 - 29));
        assert_eq!(
            PersonId::parse_at("000229+2381", TODAY),
            Err(IdError::ImpossibleDate { reason: "1800-02-29 has no such day".into() })
        );
        // In 2100 (not a leap year), 000229 can only be 2000-02-29.
        assert_eq!(
            PersonId::parse_at("000229-2381", date!(2100 - 01 - 15)).unwrap().birth_date(),
            date!(2000 - 02 - 29)
        );
    }

    #[test]
    fn invalid_person_numbers() {
        check_person_err("", IdError::Empty);
        check_person_err("12121212", IdError::WrongLength { digits: 8 });
        check_person_err("121212-12123", IdError::MisplacedSeparator);
        check_person_err("1212121-212", IdError::MisplacedSeparator);
        check_person_err("121212/1212", IdError::InvalidCharacter { found: '/', position: 6 });
        check_person_err("121212-1213", IdError::WrongCheckDigit { expected: 2, found: 3 });
        check_person_err("121212-121", IdError::MisplacedSeparator);
        check_person_err("121312-1212", IdError::ImpossibleDate { reason: "month 13".into() });
        check_person_err("19010229-0000", IdError::ImpossibleDate { reason: "1901-02-29 has no such day".into() });
        check_person_err("19121299-1212", IdError::ImpossibleDate { reason: "1912-12-99 has no such day".into() });
        // A birth date that stays in the future (a year that a wall clock will not reach during this code's life).
        check_person_err("29991212-1218", IdError::FutureDate { date: "2999-12-12".into() });
        check_person_err("19501212+1212", IdError::InconsistentSeparator);
    }

    #[test]
    fn specific_types_refuse_the_other_kind() {
        assert_eq!(Personnummer::parse_at("701063-2391", TODAY), Err(IdError::NotPersonnummer));
        assert_eq!(Samordningsnummer::parse_at("121212-1212", TODAY), Err(IdError::NotCoordinationNumber));
        assert!(Samordningsnummer::parse_at("701063-2391", TODAY).is_ok());
    }

    #[test]
    fn legal_sex_from_parity() {
        assert_eq!(PersonId::parse_at("121212-1212", TODAY).unwrap().legal_sex(), LegalSex::Male);
        assert_eq!(PersonId::parse_at("000101-0008", TODAY).unwrap().legal_sex(), LegalSex::Female);
    }

    #[test]
    fn organisation_numbers() {
        let table = [
            ("202100-6255", Ok("162021006255")),
            ("2021006255", Ok("162021006255")),
            ("16202100-6255", Ok("162021006255")),
            ("556036-0793", Ok("165560360793")),
            ("556036-0794", Err(IdError::WrongCheckDigit { expected: 3, found: 4 })),
            ("551212-1212", Err(IdError::OrganisationThirdDigit { found: 1 })),
            ("17202100-6255", Err(IdError::OrganisationPrefix { found: "17".into() })),
            ("556036+0793", Err(IdError::InvalidCharacter { found: '+', position: 6 })),
            ("55603607", Err(IdError::WrongLength { digits: 8 })),
        ];
        for (input, expected) in table {
            let got = Organisationsnummer::parse(input).map(|o| o.as_str().to_owned());
            assert_eq!(got, expected.map(str::to_owned), "{input}");
        }
        assert_eq!(Organisationsnummer::parse("556036-0793").unwrap().group_name(), "aktiebolag");
    }

    #[test]
    fn any_id_tells_kinds_apart() {
        assert!(matches!(AnyId::parse_at("556036-0793", TODAY), Ok(AnyId::Organisation(_))));
        assert!(matches!(AnyId::parse_at("121212-1212", TODAY), Ok(AnyId::Person(_))));
        assert!(matches!(AnyId::parse_at("701063-2391", TODAY), Ok(AnyId::Person(p)) if p.is_coordination_number()));
    }

    #[test]
    fn debug_masks_person_numbers() {
        let id = PersonId::parse_at("121212-1212", TODAY).unwrap();
        assert_eq!(format!("{id:?}"), "PersonId(20121212-****)");
    }

    fn with_check_digit(nine: &str) -> String {
        let digits: Vec<u8> = nine.bytes().map(|b| b - b'0').collect();
        format!("{nine}{}", luhn_check_digit(&digits))
    }

    proptest! {
        #[test]
        fn every_valid_date_round_trips(year in 1900i32..2026, ordinal in 1u16..=365, serial in 0u32..1000, coord: bool) {
            let date = Date::from_ordinal_date(year, ordinal).unwrap();
            let day = date.day() + if coord { 60 } else { 0 };
            let ten = with_check_digit(&format!("{:02}{:02}{:02}{:03}", year % 100, date.month() as u8, day, serial));
            let twelve = format!("{year}{}", &ten[2..]);
            let parsed = PersonId::parse_at(&twelve, TODAY).unwrap();
            prop_assert_eq!(parsed.as_str(), twelve.as_str());
            prop_assert_eq!(parsed.birth_date(), date);
            prop_assert_eq!(parsed.is_coordination_number(), coord);
            // The 10-digit form with the separator a person of that age uses names the same person.
            let sep = if date <= years_before(TODAY, 100) { '+' } else { '-' };
            let short = PersonId::parse_at(&format!("{}{sep}{}", &ten[..6], &ten[6..]), TODAY).unwrap();
            prop_assert_eq!(short, parsed);
        }

        #[test]
        fn a_changed_digit_is_caught(year in 1930i32..2020, ordinal in 1u16..=365, serial in 0u32..1000, pos in 2usize..12, delta in 1u8..10) {
            let date = Date::from_ordinal_date(year, ordinal).unwrap();
            let ten = with_check_digit(&format!("{:02}{:02}{:02}{:03}", year % 100, date.month() as u8, date.day(), serial));
            let mut twelve: Vec<u8> = format!("{year}{}", &ten[2..]).bytes().map(|b| b - b'0').collect();
            twelve[pos] = (twelve[pos] + delta) % 10;
            // Luhn catches every single-digit change (or the changed date is impossible).
            prop_assert!(PersonId::parse_at(&to_string(&twelve), date!(2100 - 01 - 01)).is_err());
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,20}") {
            let _ = AnyId::parse_at(&s, TODAY);
            let _ = Organisationsnummer::parse(&s);
        }
    }
}
