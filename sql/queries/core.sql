-- The shared core's queries: migrations, the key ring's rotation, local identities.

-- name: is_supabase
select exists (select 1 from pg_roles where rolname = 'supabase_admin') as is_supabase

-- name: create_migrations_table
create schema if not exists supabase_migrations;
create table if not exists supabase_migrations.schema_migrations (
    version text primary key,
    statements text[],
    name text
)

-- name: applied_migrations
select version from supabase_migrations.schema_migrations order by version

-- name: record_migration
insert into supabase_migrations.schema_migrations (version, statements, name)
values (%(version)s, %(statements)s, %(name)s)

-- name: lock_migrations
select pg_advisory_xact_lock(hashtext('switchyard.migrate'))

-- name: upsert_local_user
insert into auth.users (id, aud, role, email)
values (gen_random_uuid(), 'authenticated', 'authenticated', lower(%(email)s))
on conflict (email) do update set updated_at = now()
returning id

-- name: rotation_progress
select count(*) filter (where key_id = %(key_id)s) as current,
       count(*) filter (where key_id <> %(key_id)s) as stale
  from private.account_secrets

-- name: rotation_batch
select account_id, ciphertext
  from private.account_secrets
 where key_id <> %(key_id)s
   and not (account_id = any(%(skip)s::uuid[]))
 order by account_id
 limit %(batch)s
   for update skip locked

-- name: rotation_store
update private.account_secrets
   set ciphertext = %(ciphertext)s, key_id = %(key_id)s
 where account_id = %(account_id)s and ciphertext = %(old_ciphertext)s

-- name: mark_rotation
select set_config('switchyard.rotation', 'on', true)

-- name: become_role
select set_config('role', %(role)s, true),
       set_config('request.jwt.claims', %(claims)s, true),
       set_config('request.headers', %(headers)s, true),
       set_config('switchyard.client_address', %(client_address)s, true)
