-- An enterprise's account (docs/citizens.md): a token or web user of the role `enterprise`
-- is bound to one enterprise by its unified social credit code, as a venue device is bound
-- to its venue. Null for every other role.
alter table api_tokens add column enterprise text;
alter table users add column enterprise text;
