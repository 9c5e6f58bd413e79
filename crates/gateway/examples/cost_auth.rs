//! Per-request cost of the auth policies' gateway work, in ns per call:
//! `key_auth` (key taken from the headers, hashed, looked up), `jwt` with a
//! reused token (the verified-token cache) and with every token new
//! (parse, signature, claims, cache insertion), RS256 and ES256.
//!
//! `cargo run --release -p tollgate-gateway --example cost_auth`
//! (a timing harness, not a test: numbers vary with the machine's load).

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use http::{HeaderMap, HeaderValue, Uri};
use serde_json::json;
use tollgate_config::{
    Gateway, JwtAlgorithm, JwtIssuer, JwtKey, JwtPolicy, KeyAuth, KeyDigest, KeyMaterial,
    KeySource, Origin, TlsFile, TokenSource,
};
use tollgate_gateway::jwt::JwtAuth;
use tollgate_gateway::{key_auth, Directory, Outcome};

/// Runs `f` `n` times after a warm-up; ns per call.
fn time(n: u32, mut f: impl FnMut(u32)) -> f64 {
    for i in 0..n.min(1000) {
        f(i);
    }
    time_cold(n, f)
}

/// Runs `f` `n` times, without warm-up (each call must do new work); ns per call.
fn time_cold(n: u32, mut f: impl FnMut(u32)) -> f64 {
    let start = Instant::now();
    for i in 0..n {
        f(i);
    }
    start.elapsed().as_nanos() as f64 / f64::from(n)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Signs `header.payload`.
type SignFn = Box<dyn Fn(&[u8]) -> Vec<u8>>;

/// A signer: the algorithm's name, its signing function, its public key.
struct Signer {
    alg: &'static str,
    sign: SignFn,
    pem: String,
}

fn rsa_signer() -> Signer {
    let pair = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("RSA key");
    let der = pair.public_key().as_der().expect("SPKI");
    let pem = pem(der.as_ref());
    Signer {
        alg: "RS256",
        pem,
        sign: Box::new(move |msg| {
            let mut sig = vec![0; pair.public_modulus_len()];
            pair.sign(
                &signature::RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                msg,
                &mut sig,
            )
            .expect("sign");
            sig
        }),
    }
}

fn ec_signer() -> Signer {
    let pair = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).expect("EC");
    let der = pair.public_key().as_der().expect("SPKI");
    let pem = pem(der.as_ref());
    Signer {
        alg: "ES256",
        pem,
        sign: Box::new(move |msg| {
            let sig = pair.sign(&SystemRandom::new(), msg).expect("sign");
            sig.as_ref().to_vec()
        }),
    }
}

fn pem(der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        lines.join("\n")
    )
}

/// A token as bench/make_tokens.py makes them (~700 B for RS256).
fn token(s: &Signer, n: u32) -> String {
    let header = json!({"alg": s.alg, "typ": "JWT"});
    let claims = json!({
        "iss": "https://bench.example", "aud": "bench", "sub": format!("user-{n}"),
        "iat": now(), "exp": now() + 3600, "jti": format!("bench-{n:08}"),
        "scope": "read write", "name": "Bench User",
    });
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = (s.sign)(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn policy(pem_path: PathBuf, alg: JwtAlgorithm, cache_size: u64) -> Arc<JwtPolicy> {
    Arc::new(JwtPolicy {
        issuers: vec![JwtIssuer {
            issuer: "https://bench.example".into(),
            audiences: vec!["bench".into()],
            keys: vec![JwtKey {
                material: KeyMaterial::Pem(TlsFile {
                    path: pem_path,
                    origin: Origin {
                        file: "cost_auth".into(),
                        location: None,
                        path: "keys[0]".into(),
                    },
                }),
                kid: None,
                algorithm: Some(alg),
            }],
            jwks_endpoint: None,
            consumer: Some("bench-user".into()),
        }],
        source: TokenSource::Bearer,
        leeway: Duration::from_secs(30),
        max_token_size: 8192,
        require_exp: true,
        typ: None,
        claims_to_headers: vec![],
        cache_size,
        anonymous: None,
    })
}

fn directory() -> Directory {
    Directory::build(&Gateway {
        consumers: vec![tollgate_config::Consumer {
            name: "bench-user".into(),
            groups: vec![],
            metadata: vec![],
            api_keys: vec![KeyDigest::of(b"bench-key-0123456789abcdef")],
            basic_auth: vec![],
            jwt: vec![],
            mtls: vec![],
        }],
        identity_headers: Default::default(),
    })
}

fn key_auth_cost(dir: &Directory) {
    let policy = KeyAuth {
        sources: vec![KeySource::Header("x-api-key".parse().expect("name"))],
        anonymous: None,
    };
    let value = HeaderValue::from_static("bench-key-0123456789abcdef");
    let mut base = HeaderMap::new();
    base.insert("host", HeaderValue::from_static("bench"));
    base.insert("user-agent", HeaderValue::from_static("bench/1"));
    let uri: Uri = "/p".parse().expect("uri");
    let digest = time(1_000_000, |_| {
        black_box(KeyDigest::of(black_box(b"bench-key-0123456789abcdef")));
    });
    let lookup = time(1_000_000, |_| {
        black_box(dir.by_api_key(black_box(b"bench-key-0123456789abcdef")));
    });
    // The header map is rebuilt each round, as the request's is; its
    // cost is printed alone so it can be taken off.
    let setup = time(1_000_000, |_| {
        let mut h = base.clone();
        h.insert("x-api-key", value.clone());
        black_box(h);
    });
    let full = time(1_000_000, |_| {
        let mut h = base.clone();
        h.insert("x-api-key", value.clone());
        let mut u = uri.clone();
        let out = key_auth::authenticate(&policy, dir, &mut h, &mut u);
        assert!(matches!(out, Outcome::Identified(_)));
        black_box(h);
    });
    println!("key_auth: SHA-256 of the key        {digest:8.0} ns");
    println!("key_auth: directory lookup          {lookup:8.0} ns");
    println!(
        "key_auth: authenticate (take, look) {:8.0} ns  (less {setup:.0} ns header-map set-up)",
        full - setup
    );
}

fn jwt_cost(s: &Signer, alg: JwtAlgorithm, dir: &Directory, new_tokens: u32) {
    let path = std::env::temp_dir().join(format!("cost_auth_{}_{}.pem", s.alg, std::process::id()));
    std::fs::write(&path, &s.pem).expect("write the key");
    let auth = JwtAuth::build(&policy(path.clone(), alg, 10_000)).expect("policy");
    let _ = std::fs::remove_file(&path);
    let reused = token(s, 0);
    println!("{}: token length {} B", s.alg, reused.len());
    let hashed = time(200_000, |_| {
        black_box(KeyDigest::of(black_box(reused.as_bytes())));
    });
    println!(
        "{}: SHA-256 of the token             {hashed:8.0} ns",
        s.alg
    );
    let hit = time(1_000_000, |_| {
        black_box(auth.verify(dir, black_box(&reused)).expect("valid"));
    });
    println!("{}: verify, token reused (cache hit) {hit:8.0} ns", s.alg);
    let tokens: Vec<String> = (1..=new_tokens).map(|n| token(s, n)).collect();
    // A fresh policy, so no token is cached; 10,000 entries, as the default.
    std::fs::write(&path, &s.pem).expect("write the key");
    let fresh = JwtAuth::build(&policy(path.clone(), alg, 10_000)).expect("policy");
    let uncached = JwtAuth::build(&policy(path.clone(), alg, 0)).expect("policy");
    let _ = std::fs::remove_file(&path);
    let new = time_cold(new_tokens, |i| {
        let t = &tokens[i as usize % tokens.len()];
        black_box(fresh.verify(dir, t).expect("valid"));
    });
    println!("{}: verify, every token new          {new:8.0} ns", s.alg);
    let bare = time_cold(new_tokens, |i| {
        let t = &tokens[i as usize % tokens.len()];
        black_box(uncached.verify(dir, t).expect("valid"));
    });
    println!("{}: verify, no cache at all          {bare:8.0} ns", s.alg);
}

/// The parts on their own, the way before this harness's change (the
/// public key parsed by `jsonwebtoken` for every token; moka keyed by the
/// SHA-256 of the whole token) beside the way after (a key parsed once;
/// a keyed hash of the token's tail, a mutex map, the token compared).
fn parts(s: &Signer, alg: &'static dyn signature::VerificationAlgorithm) {
    let t = token(s, 7);
    let (input, sig_b64) = t.rsplit_once('.').expect("three parts");
    let der = STANDARD
        .decode(
            s.pem
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<String>(),
        )
        .expect("PEM");
    let (jalg, dk) = if s.alg == "RS256" {
        let dk = jsonwebtoken::DecodingKey::from_rsa_pem(s.pem.as_bytes()).expect("RSA");
        (jsonwebtoken::Algorithm::RS256, dk)
    } else {
        let dk = jsonwebtoken::DecodingKey::from_ec_pem(s.pem.as_bytes()).expect("EC");
        (jsonwebtoken::Algorithm::ES256, dk)
    };
    let old = time(2_000, |_| {
        let ok = jsonwebtoken::crypto::verify(sig_b64, input.as_bytes(), &dk, jalg);
        assert!(ok.expect("verify"));
    });
    let parsed = signature::ParsedPublicKey::new(alg, &der).expect("key");
    let new = time(2_000, |_| {
        let sig = URL_SAFE_NO_PAD.decode(sig_b64).expect("b64");
        assert!(parsed.verify_sig(input.as_bytes(), &sig).is_ok());
    });
    println!("{}: signature, key parsed per call    {old:8.0} ns", s.alg);
    println!("{}: signature, key parsed once        {new:8.0} ns", s.alg);

    let moka = moka::sync::Cache::builder()
        .max_capacity(10_000)
        .time_to_live(Duration::from_secs(3600))
        .build();
    moka.insert(KeyDigest::of(t.as_bytes()), Arc::new(1u64));
    let old = time(1_000_000, |_| {
        black_box(
            moka.get(&KeyDigest::of(black_box(t.as_bytes())))
                .expect("hit"),
        );
    });
    let keys = std::hash::RandomState::new();
    let tail = |x: &str| {
        let b = x.as_bytes();
        std::hash::BuildHasher::hash_one(&keys, &b[b.len().saturating_sub(48)..])
    };
    let map = std::sync::Mutex::new(std::collections::HashMap::new());
    map.lock()
        .expect("lock")
        .insert(tail(&t), (t.clone().into_boxed_str(), Arc::new(1u64)));
    let new = time(1_000_000, |_| {
        let t = black_box(t.as_str());
        let m = map.lock().expect("lock");
        let (stored, v) = m.get(&tail(t)).expect("hit");
        assert!(stored.as_bytes() == t.as_bytes());
        black_box(v.clone());
    });
    println!("{}: cache hit, SHA-256 + moka         {old:8.0} ns", s.alg);
    println!("{}: cache hit, keyed tail hash + map  {new:8.0} ns", s.alg);
}

fn main() {
    let dir = directory();
    key_auth_cost(&dir);
    let rsa = rsa_signer();
    let ec = ec_signer();
    parts(&rsa, &signature::RSA_PKCS1_2048_8192_SHA256);
    parts(&ec, &signature::ECDSA_P256_SHA256_FIXED);
    jwt_cost(&rsa, JwtAlgorithm::RS256, &dir, 5_000);
    jwt_cost(&ec, JwtAlgorithm::ES256, &dir, 20_000);
}
