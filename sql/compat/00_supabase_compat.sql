-- What plain Postgres needs to behave like a Supabase database for switchyard's schema.
-- Applied by `switchyard db migrate` only when the database is not already Supabase
-- (no `supabase_admin` role). Idempotent: safe to run again, and on a cluster that
-- other databases already set up (roles are cluster-wide).

-- Roles, as Supabase defines them: the API roles cannot log in; `authenticator`
-- logs in, can do nothing by itself (NOINHERIT) and switches into the API roles.
do $$
begin
    if not exists (select 1 from pg_roles where rolname = 'anon') then
        create role anon nologin noinherit;
    end if;
    if not exists (select 1 from pg_roles where rolname = 'authenticated') then
        create role authenticated nologin noinherit;
    end if;
    if not exists (select 1 from pg_roles where rolname = 'service_role') then
        create role service_role nologin noinherit bypassrls;
    end if;
    if not exists (select 1 from pg_roles where rolname = 'authenticator') then
        create role authenticator login noinherit;
    end if;
exception when duplicate_object or unique_violation then
    -- another database of this cluster created them at the same moment
    null;
end;
$$;
grant anon, authenticated, service_role to authenticator;

-- The auth schema: users and the claim readers, reading `request.jwt.claims` exactly
-- as Supabase's (and PostgREST's) do.
create schema if not exists auth;
grant usage on schema auth to anon, authenticated, service_role;

create table if not exists auth.users (
    instance_id uuid,
    id uuid primary key,
    aud varchar(255),
    role varchar(255),
    email varchar(255) unique,
    raw_app_meta_data jsonb default '{}'::jsonb,
    raw_user_meta_data jsonb default '{}'::jsonb,
    is_anonymous boolean not null default false,
    created_at timestamptz default now(),
    updated_at timestamptz default now()
);
revoke all on table auth.users from public, anon, authenticated;
grant select on table auth.users to service_role;

create or replace function auth.uid() returns uuid
language sql stable as $$
    select coalesce(
        nullif(current_setting('request.jwt.claim.sub', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
    )::uuid
$$;

create or replace function auth.role() returns text
language sql stable as $$
    select coalesce(
        nullif(current_setting('request.jwt.claim.role', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
    )::text
$$;

create or replace function auth.email() returns text
language sql stable as $$
    select coalesce(
        nullif(current_setting('request.jwt.claim.email', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
    )::text
$$;

create or replace function auth.jwt() returns jsonb
language sql stable as $$
    select coalesce(
        nullif(current_setting('request.jwt.claim', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')
    )::jsonb
$$;

grant execute on function auth.uid(), auth.role(), auth.email(), auth.jwt()
    to anon, authenticated, service_role;

-- Supabase's defaults for the public schema: the API roles may use it, and whatever
-- the migrating role creates there is granted to them. Our migrations must therefore
-- revoke what they do not mean to expose, exactly as they must on hosted Supabase.
-- A new Supabase project starts with these defaults once; so does a database here: set
-- only while the migrating role has no defaults in `public` yet, so that running this
-- file again never reopens what a migration has since closed.
grant usage on schema public to anon, authenticated, service_role;
do $$
begin
    if not exists (
        select 1 from pg_default_acl
         where defaclrole = (select oid from pg_roles where rolname = current_user)
           and defaclnamespace = 'public'::regnamespace
    ) then
        alter default privileges in schema public
            grant all on tables to anon, authenticated, service_role;
        alter default privileges in schema public
            grant all on sequences to anon, authenticated, service_role;
        alter default privileges in schema public
            grant all on functions to anon, authenticated, service_role;
    end if;
end;
$$;
