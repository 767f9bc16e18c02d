-- Min profil. Contact details: an e-mail address or mobile number of a person, for them or for notices
-- about an organisation they act for ('' = for themselves); usable once verified with a code. A code is
-- kept only as SHA-256(contact id ":" code), expires, and allows a few tries; how many codes were sent in
-- the current window limits sending. Times are unix seconds.
CREATE TABLE profile_contacts (
    id TEXT PRIMARY KEY,
    person TEXT NOT NULL,
    channel TEXT NOT NULL,
    address TEXT NOT NULL,
    organisation TEXT NOT NULL,
    verified_at BIGINT,
    code_hash BYTEA,
    code_expires_at BIGINT,
    code_attempts INTEGER NOT NULL,
    codes_sent INTEGER NOT NULL,
    codes_window BIGINT NOT NULL,
    last_sent_at BIGINT,
    created_at BIGINT NOT NULL,
    UNIQUE (person, channel, address, organisation)
);
-- Whom to tell about an organisation's mail: its people's verified contacts for it.
CREATE INDEX profile_contacts_organisation ON profile_contacts (organisation, channel);
CREATE TABLE profile_preferences (
    person TEXT PRIMARY KEY,
    language TEXT NOT NULL,
    channel TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- Consents: that recipient may get category data about person from holder, for purpose, until
-- expires_at (or withdrawn_at). The producing node asks by id at every call.
CREATE TABLE profile_consents (
    id TEXT PRIMARY KEY,
    person TEXT NOT NULL,
    recipient TEXT NOT NULL,
    holder TEXT NOT NULL,
    category TEXT NOT NULL,
    purpose TEXT NOT NULL,
    given_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    withdrawn_at BIGINT
);
CREATE INDEX profile_consents_person ON profile_consents (person, given_at);
