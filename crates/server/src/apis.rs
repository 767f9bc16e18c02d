//! The registry of ena's APIs: one entry per block API, the source of every `api-info` answer and of the
//! tags in the OpenAPI document.

use serde::Serialize;
use utoipa::ToSchema;

/// A block's API as published.
#[derive(Clone, Copy, Debug)]
pub struct ApiDescriptor {
    /// The tag and first path segment, e.g. `plan`.
    pub id: &'static str,
    pub name: &'static str,
    pub version: &'static str,
    pub released: &'static str,
    pub status: &'static str,
    pub description_sv: &'static str,
    pub description_en: &'static str,
    /// The block's portal pages, if it has any: (path, Swedish label, English label).
    pub pages: &'static [(&'static str, &'static str, &'static str)],
}

/// The VER.06 `api-info` resource.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiInfo {
    #[schema(example = "ena plan API")]
    pub api_name: String,
    #[schema(example = "1.0.0")]
    pub api_version: String,
    /// Release date (RFC 3339 full-date).
    #[schema(example = "2026-11-29")]
    pub api_released: String,
    /// `active`, `deprecated` or `retired`.
    #[schema(example = "active")]
    pub api_status: String,
    #[schema(example = "/docs#api-plan")]
    pub api_documentation: String,
}

impl ApiDescriptor {
    pub fn info(&self) -> ApiInfo {
        ApiInfo {
            api_name: self.name.to_owned(),
            api_version: self.version.to_owned(),
            api_released: self.released.to_owned(),
            api_status: self.status.to_owned(),
            api_documentation: format!("/docs#api-{}", self.id),
        }
    }
}

pub const PLAN_API: ApiDescriptor = ApiDescriptor {
    id: "plan",
    name: "ena plan API",
    version: "1.0.0",
    released: "2026-11-29",
    status: "active",
    description_sv: "Långsiktig plan: byggblock, beroenden, status och kostnadsmodell (schablon, utveckling/drift, totaler).",
    description_en: "Long-term plan: building blocks, dependencies, status and the cost model (schablon, development/operations, totals).",
    pages: &[(
        "/byggblock",
        "Byggblocken i den långsiktiga planen, med status och kostnader",
        "The building blocks of the long-term plan, with status and costs",
    )],
};

pub const AUDIT_API: ApiDescriptor = ApiDescriptor {
    id: "audit",
    name: "ena audit API",
    version: "1.0.0",
    released: "2026-11-29",
    status: "active",
    description_sv: "Spårbarhet: manipuleringssäker transparenslogg (RFC 9162) med signerade kontrollpunkter, bevis, händelser, larm och vittnessignering.",
    description_en: "Traceability: tamper-evident transparency log (RFC 9162) with signed checkpoints, proofs, events, alerts and witness cosigning.",
    pages: &[],
};

pub const FEDERATION_API: ApiDescriptor = ApiDescriptor {
    id: "federation",
    name: "ena federation API",
    version: "1.0.0",
    released: "2026-11-29",
    status: "active",
    description_sv: "Tillitsramverk: OpenID Federation-tillitsankare (entity configuration, fetch, list, resolve, tillitsmärken), anslutning av organisationer, federationens CA och spärrlista, historik i transparensloggen.",
    description_en: "Trust framework: OpenID Federation trust anchor (entity configuration, fetch, list, resolve, trust marks), member onboarding, the federation CA and CRL, history in the transparency log.",
    pages: &[(
        "/anslutning",
        "Anslutning till federationen (operatören beslutar om ansökningar)",
        "Joining the federation (the operator decides applications)",
    )],
};

pub const IDENTITY_API: ApiDescriptor = ApiDescriptor {
    id: "identity",
    name: "ena identity API",
    version: "1.0.0",
    released: "2026-11-29",
    status: "active",
    description_sv: "Identitet: åtkomstbiljetter för medlemmarnas system (mTLS eller private_key_jwt, certifikatbundna, för en person via token exchange), e-tjänstelegitimationer och den inbyggda test-e-legitimationen (ENDAST FÖR TEST). Inloggning i portalen sker på /login.",
    description_en: "Identity: access tokens for member systems (mTLS or private_key_jwt, certificate-bound, on behalf of a person by token exchange), employee credentials, and the built-in test eID (TEST ONLY). Portal login is at /login.",
    pages: &[("/login", "Logga in med e-legitimation", "Log in with e-ID"), ("/mina-sidor", "Mina sidor", "My pages")],
};

pub const ACCESS_API: ApiDescriptor = ApiDescriptor {
    id: "access",
    name: "ena access API",
    version: "1.0.0",
    released: "2026-11-29",
    status: "active",
    description_sv: "Auktorisation: den gemensamma beslutspunkten (Cedar) med OpenID AuthZEN-gränssnittet; varje beslut anger sina skäl. Policyerna förvaltas av operatören.",
    description_en: "Authorisation: the one decision point (Cedar) with the OpenID AuthZEN API; every decision gives its reasons. Policies are managed by the operator.",
    pages: &[],
};

pub const SIGNATURES_API: ApiDescriptor = ApiDescriptor {
    id: "signatures",
    name: "ena signature API",
    version: "1.0.0",
    released: "2026-11-29",
    status: "active",
    description_sv: "E-underskrift: en inloggad person (tillitsnivå 3 eller högre) skriver under ett dokuments SHA-256; underskriften bär undertecknare, nivå, tid och loggindex och kan verifieras av vem som helst.",
    description_en: "E-signature: a logged-in person (LoA 3 or higher) signs a document's SHA-256; the signature carries signer, level, time and log index and anyone can verify it.",
    pages: &[],
};

pub const REPRESENTATION_API: ApiDescriptor = ApiDescriptor {
    id: "representation",
    name: "ena representation API",
    version: "1.0.0",
    released: "2026-11-29",
    status: "active",
    description_sv: "Mina ombud: vem får företräda vem — registerroller, fullmakter med firmateckning, förfrågningar, tidsgränser och vidaredelegering; kontrollen besvaras av beslutspunkten och loggas.",
    description_en: "Mina ombud: who may represent whom — register roles, mandates with signing rules, requests, time limits and sub-delegation; the check is answered by the decision point and logged.",
    pages: &[("/mina-sidor", "Mina ombud: fullmakter du gett och fått", "Mina ombud: mandates you gave and hold")],
};

pub const ADDRESSES_API: ApiDescriptor = ApiDescriptor {
    id: "addresses",
    name: "ena address registry API",
    version: "1.0.0",
    released: "2026-11-29",
    status: "active",
    description_sv: "Adressregister: digitala adresser för organisationer, funktioner, företag och personer — noden som tar emot, meddelandetyper med scheman, krypteringsnycklar, ändringsflöde.",
    description_en: "Address registry: digital addresses of organisations, functions, companies and persons — the receiving node, message types with schemas, encryption keys, change feed.",
    pages: &[],
};

pub const CASES_API: ApiDescriptor = ApiDescriptor {
    id: "cases",
    name: "ena cases API",
    version: "1.0.0",
    released: "2026-12-04",
    status: "active",
    description_sv: "Mina ärenden: varje ärende en person eller ett företag har hos det offentliga på ett ställe — status, ett utlovat beslutsdatum med hela sin historik, oföränderliga försändelser, åtgärder; för den som företräder tusen parter lika snabbt.",
    description_en: "Mina ärenden: every case a person or company has with the public sector in one place — status, a committed decision date with its whole history, immutable transmissions, actions; as fast for someone acting for a thousand parties.",
    pages: &[(
        "/mina-sidor/arenden",
        "Mina ärenden: dina ärenden och deras du företräder",
        "My cases: yours and those of the parties you act for",
    )],
};

pub const MAIL_API: ApiDescriptor = ApiDescriptor {
    id: "mail",
    name: "ena mail API",
    version: "1.0.0",
    released: "2026-12-06",
    status: "active",
    description_sv: "Mina meddelanden: förmedlingsadressregistret (FaR) med signerade registreringar, nåbarhet för upp till 10 000 mottagare som vet om ombud, brevlådeoperatörer i federationen och den inbyggda brevlådan.",
    description_en: "Mina meddelanden: the recipient registry (FaR) with signed registrations, reachability for up to 10 000 recipients that knows about representatives, mailbox operators in the federation, and the built-in mailbox.",
    pages: &[(
        "/mina-sidor/meddelanden",
        "Mina meddelanden: din digitala brevlåda och dina inställningar",
        "My messages: your digital mailbox and your settings",
    )],
};

pub const INDEX_API: ApiDescriptor = ApiDescriptor {
    id: "index",
    name: "ena index API",
    version: "1.0.0",
    released: "2026-12-06",
    status: "active",
    description_sv: "Indexering: var information om en person, ett företag, en fastighet, ett fordon eller ett ärende finns — engagemang som innehavarna registrerar, objekt lagrade endast som nyckelade hashvärden, och sökningar som bara visar de kategorier beslutspunkten tillåter.",
    description_en: "Indexing: where information about a person, a company, a property, a vehicle or a case is kept — engagements registered by their holders, objects kept only as keyed hashes, and finds that show only the categories the decision point allows.",
    pages: &[],
};

pub const PROFILE_API: ApiDescriptor = ApiDescriptor {
    id: "profile",
    name: "ena profile API",
    version: "1.0.0",
    released: "2026-12-07",
    status: "active",
    description_sv: "Min profil: kontaktuppgifter verifierade med kod, hur man vill bli kontaktad, och samtycken — att en namngiven organisation får en namngiven kategori uppgifter från en annan för ett syfte och en tid — med signerade kvitton (ISO/IEC TS 27560) och en kontroll som den producerande noden gör vid varje anrop.",
    description_en: "Min profil: contact details verified with codes, how a person wants to be reached, and consents — that a named organisation may get a named category of data from another for a purpose and a period — with signed receipts (ISO/IEC TS 27560) and a check the producing node makes at every call.",
    pages: &[],
};

pub const APIS_API: ApiDescriptor = ApiDescriptor {
    id: "apis",
    name: "ena apis API",
    version: "1.0.0",
    released: "2026-12-07",
    status: "active",
    description_sv: "API-hantering: granska ett OpenAPI-dokument mot DIGG:s REST API-profil (regel, nivå, plats, åtgärd) och jämför två versioner av ett API — varje förändring bakåtkompatibel eller brytande enligt VER-reglerna.",
    description_en: "API management: lint an OpenAPI document against DIGG's REST API profile (rule, level, place, fix) and compare two versions of an API — each change compatible or breaking by the VER rules.",
    pages: &[(
        "/api-katalog",
        "API-katalogen: registrerade API:er och deras publicerade versioner",
        "The API catalog: registered APIs and their published versions",
    )],
};

/// Every API ena serves, in the order the docs list them.
pub const ALL: &[ApiDescriptor] = &[
    PLAN_API,
    AUDIT_API,
    FEDERATION_API,
    IDENTITY_API,
    SIGNATURES_API,
    ACCESS_API,
    REPRESENTATION_API,
    ADDRESSES_API,
    CASES_API,
    MAIL_API,
    INDEX_API,
    PROFILE_API,
    APIS_API,
];
