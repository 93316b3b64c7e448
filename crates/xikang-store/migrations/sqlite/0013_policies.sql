-- Policy versions (issue 15): the full text of every policy file uploaded or loaded at
-- start, not only its hash, with who uploaded it, who proposed and who approved its
-- activation, the instant it was to take effect and when it was in force.
create table policies (
    version text primary key,
    sha256 text not null,
    text text not null,
    uploaded_by text not null,
    uploaded_at integer not null,
    proposed_by text,
    proposed_at integer,
    effective_from integer,
    approved_by text,
    approved_at integer,
    active_since integer,
    active_until integer
);
