-- API tokens get a row id (listed and revoked by it; the secret is never stored), an issue
-- time, an expiry and a revocation time. Tokens issued before this version had no expiry:
-- they expire one day (admins) or thirty days (everyone else) after the upgrade, so that
-- they are reissued with an expiry of their own.
alter table api_tokens add column id bigserial not null unique;
alter table api_tokens add column created_at bigint;
alter table api_tokens add column expires_at bigint;
alter table api_tokens add column revoked_at bigint;
update api_tokens set
    created_at = extract(epoch from now())::bigint,
    expires_at = extract(epoch from now())::bigint
        + case role when 'admin' then 86400 else 30 * 86400 end;
alter table api_tokens alter column created_at set not null;
alter table api_tokens alter column expires_at set not null;

-- Reads of personal data (a person's record, a code read by staff, contact lists, exports,
-- people lists): one row per person read, with ids, the route, the purpose and the time
-- only. Written in batches off the request path; queried by actor or by person.
create table access_log (
    id bigserial primary key,
    at bigint not null,
    actor text not null,
    route text not null,
    purpose text,
    person bigint not null
);
create index access_log_person on access_log (person, id);
create index access_log_actor on access_log (actor, id);
