-- The Supabase Auth (GoTrue) tables, as its own migrations (supabase/auth `migrations/`)
-- leave them on a hosted project: the users' remaining columns, identities, sessions,
-- refresh tokens and the MFA tables. On hosted Supabase they exist already; here they
-- let the local Auth stand-in (switchyard/sim/auth) keep its state exactly where GoTrue
-- keeps it, and let the schema read `auth.mfa_factors` as it would on Supabase.
-- Idempotent, like 00_supabase_compat.sql. As on Supabase, the API roles have no
-- privilege on any of these tables, and row-level security is on with no policy.

-- The enums of 20221003041349_add_mfa_schema (+ 'phone' from 20240729123726).
do $$ begin
    create type auth.factor_type as enum ('totp', 'webauthn', 'phone');
exception when duplicate_object then null;
end $$;
do $$ begin
    create type auth.factor_status as enum ('unverified', 'verified');
exception when duplicate_object then null;
end $$;
do $$ begin
    create type auth.aal_level as enum ('aal1', 'aal2', 'aal3');
exception when duplicate_object then null;
end $$;

-- auth.users: 00_supabase_compat.sql created the columns the schema needs; these are
-- the rest of GoTrue's (names, types and defaults of its migrations, in their order).
alter table auth.users
    add column if not exists encrypted_password varchar(255),
    add column if not exists email_confirmed_at timestamptz,
    add column if not exists invited_at timestamptz,
    add column if not exists confirmation_token varchar(255),
    add column if not exists confirmation_sent_at timestamptz,
    add column if not exists recovery_token varchar(255),
    add column if not exists recovery_sent_at timestamptz,
    add column if not exists email_change_token_new varchar(255),
    add column if not exists email_change varchar(255),
    add column if not exists email_change_sent_at timestamptz,
    add column if not exists last_sign_in_at timestamptz,
    add column if not exists is_super_admin boolean,
    add column if not exists phone text unique default null,
    add column if not exists phone_confirmed_at timestamptz,
    add column if not exists phone_change text default '',
    add column if not exists phone_change_token varchar(255) default '',
    add column if not exists phone_change_sent_at timestamptz,
    add column if not exists email_change_token_current varchar(255) default '',
    add column if not exists email_change_confirm_status smallint default 0
        check (email_change_confirm_status >= 0 and email_change_confirm_status <= 2),
    add column if not exists banned_until timestamptz,
    add column if not exists reauthentication_token varchar(255) default '',
    add column if not exists reauthentication_sent_at timestamptz,
    add column if not exists is_sso_user boolean not null default false,
    add column if not exists deleted_at timestamptz;
alter table auth.users
    add column if not exists confirmed_at timestamptz
        generated always as (least(email_confirmed_at, phone_confirmed_at)) stored;

create index if not exists users_instance_id_idx on auth.users (instance_id);
create index if not exists users_instance_id_email_idx on auth.users (instance_id, lower(email));
create index if not exists users_is_anonymous_idx on auth.users (is_anonymous);
-- GoTrue's uniqueness of email; 00_supabase_compat.sql's users_email_key stays beside it
-- (the local `switchyard token` upsert relies on it).
create unique index if not exists users_email_partial_key on auth.users (email)
    where (is_sso_user = false);
create unique index if not exists confirmation_token_idx on auth.users (confirmation_token)
    where confirmation_token !~ '^[0-9 ]*$';
create unique index if not exists recovery_token_idx on auth.users (recovery_token)
    where recovery_token !~ '^[0-9 ]*$';
create unique index if not exists email_change_token_current_idx
    on auth.users (email_change_token_current) where email_change_token_current !~ '^[0-9 ]*$';
create unique index if not exists email_change_token_new_idx
    on auth.users (email_change_token_new) where email_change_token_new !~ '^[0-9 ]*$';
create unique index if not exists reauthentication_token_idx
    on auth.users (reauthentication_token) where reauthentication_token !~ '^[0-9 ]*$';

-- auth.identities (20210909172000, 20221215195800, 20231117164230).
create table if not exists auth.identities (
    provider_id text not null,
    user_id uuid not null references auth.users (id) on delete cascade,
    identity_data jsonb not null,
    provider text not null,
    last_sign_in_at timestamptz,
    created_at timestamptz,
    updated_at timestamptz,
    email text generated always as (lower(identity_data ->> 'email')) stored,
    id uuid not null default gen_random_uuid() primary key,
    constraint identities_provider_id_provider_unique unique (provider_id, provider)
);
create index if not exists identities_user_id_idx on auth.identities (user_id);
create index if not exists identities_email_idx on auth.identities (email text_pattern_ops);

-- auth.sessions (20220811173540 and the columns added since). refreshed_at is
-- `timestamp without time zone` on Supabase too, and GoTrue writes it in UTC.
create table if not exists auth.sessions (
    id uuid not null primary key,
    user_id uuid not null references auth.users (id) on delete cascade,
    created_at timestamptz,
    updated_at timestamptz,
    factor_id uuid,
    aal auth.aal_level,
    not_after timestamptz,
    refreshed_at timestamp,
    user_agent text,
    ip inet,
    tag text,
    oauth_client_id uuid,
    refresh_token_hmac_key text,
    refresh_token_counter bigint,
    scopes text,
    constraint sessions_scopes_length check (char_length(scopes) <= 4096)
);
create index if not exists user_id_created_at_idx on auth.sessions (user_id, created_at);
create index if not exists sessions_user_id_idx on auth.sessions (user_id);
create index if not exists sessions_not_after_idx on auth.sessions (not_after desc);
create index if not exists sessions_oauth_client_id_idx on auth.sessions (oauth_client_id);

-- auth.refresh_tokens (00_init_auth_schema, 20210927181326, 20220811173540). user_id is
-- varchar(255) there, and `parent` has had no foreign key since 20221114143410.
create table if not exists auth.refresh_tokens (
    instance_id uuid,
    id bigserial primary key,
    token varchar(255) constraint refresh_tokens_token_unique unique,
    user_id varchar(255),
    revoked boolean,
    created_at timestamptz,
    updated_at timestamptz,
    parent varchar(255),
    session_id uuid references auth.sessions (id) on delete cascade
);
create index if not exists refresh_tokens_instance_id_idx on auth.refresh_tokens (instance_id);
create index if not exists refresh_tokens_instance_id_user_id_idx
    on auth.refresh_tokens (instance_id, user_id);
create index if not exists refresh_tokens_parent_idx on auth.refresh_tokens (parent);
create index if not exists refresh_tokens_session_id_revoked_idx
    on auth.refresh_tokens (session_id, revoked);
create index if not exists refresh_tokens_updated_at_idx on auth.refresh_tokens (updated_at desc);

-- auth.mfa_factors, auth.mfa_challenges, auth.mfa_amr_claims (20221003041349 and after).
create table if not exists auth.mfa_factors (
    id uuid not null primary key,
    user_id uuid not null references auth.users (id) on delete cascade,
    friendly_name text,
    factor_type auth.factor_type not null,
    status auth.factor_status not null,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    secret text,
    phone text default null,
    last_challenged_at timestamptz unique default null,
    web_authn_credential jsonb,
    web_authn_aaguid uuid,
    last_webauthn_challenge_data jsonb
);
create unique index if not exists mfa_factors_user_friendly_name_unique
    on auth.mfa_factors (friendly_name, user_id) where trim(friendly_name) <> '';
create index if not exists factor_id_created_at_idx on auth.mfa_factors (user_id, created_at);
create index if not exists mfa_factors_user_id_idx on auth.mfa_factors (user_id);
create unique index if not exists unique_phone_factor_per_user on auth.mfa_factors (user_id, phone);

create table if not exists auth.mfa_challenges (
    id uuid not null primary key,
    factor_id uuid not null
        constraint mfa_challenges_auth_factor_id_fkey references auth.mfa_factors (id)
        on delete cascade,
    created_at timestamptz not null,
    verified_at timestamptz,
    ip_address inet not null,
    otp_code text,
    web_authn_session_data jsonb
);
create index if not exists mfa_challenge_created_at_idx on auth.mfa_challenges (created_at desc);

create table if not exists auth.mfa_amr_claims (
    session_id uuid not null references auth.sessions (id) on delete cascade,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    authentication_method text not null,
    id uuid not null constraint amr_id_pk primary key,
    constraint mfa_amr_claims_session_id_authentication_method_pkey
        unique (session_id, authentication_method)
);

-- As on Supabase (20240612123726): row-level security on, no policy, and nothing for
-- the API roles. The migrating role and the Auth service own and read these tables.
alter table auth.users enable row level security;
alter table auth.identities enable row level security;
alter table auth.sessions enable row level security;
alter table auth.refresh_tokens enable row level security;
alter table auth.mfa_factors enable row level security;
alter table auth.mfa_challenges enable row level security;
alter table auth.mfa_amr_claims enable row level security;
revoke all on table auth.identities, auth.sessions, auth.refresh_tokens, auth.mfa_factors,
    auth.mfa_challenges, auth.mfa_amr_claims from public, anon, authenticated, service_role;
revoke all on sequence auth.refresh_tokens_id_seq from public, anon, authenticated, service_role;
