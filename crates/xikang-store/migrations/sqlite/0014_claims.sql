-- Self-service claims (申领, docs/claim.md): a resident's request for their code, proven by a
-- one-time code sent to the phone on record. The code is kept only as a keyed hash; the ID
-- number and phone only as keyed hashes (the rate limits count by them). A claim whose
-- details matched nobody is stored too (person null, a code nobody was sent), so that the
-- answer and what follows look the same whether or not the person exists.
create table claims (
    id integer primary key,
    person integer,
    id_hash blob not null,
    phone_hash blob not null,
    code_hash blob not null,
    -- the keyed hash of the secret half of the claim id the starter was given: only they
    -- can try codes (a stranger cannot spend another's attempts)
    secret_hash blob not null,
    created_at integer not null,
    expires_at integer not null,
    attempts integer not null default 0,
    -- 'open', 'done' (a token was issued), 'dead' (attempts exhausted)
    state text not null default 'open'
);
create index claims_id_hash on claims (id_hash, created_at);
create index claims_phone_hash on claims (phone_hash, created_at);
