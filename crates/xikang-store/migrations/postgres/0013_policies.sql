-- Policy versions (issue 15): the full text of every policy file uploaded or loaded at
-- start, not only its hash, with who uploaded it, who proposed and who approved its
-- activation, the instant it was to take effect and when it was in force.
create table policies (
    version text primary key,
    sha256 text not null,
    text text not null,
    uploaded_by text not null,
    uploaded_at bigint not null,
    proposed_by text,
    proposed_at bigint,
    effective_from bigint,
    approved_by text,
    approved_at bigint,
    active_since bigint,
    active_until bigint
);
