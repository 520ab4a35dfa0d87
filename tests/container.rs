//! The container image: `contrib/container/build.sh` builds it with the OCI builder it finds
//! (docker, podman, buildah), then the image is exported and every tool in it is run with
//! `--version` inside the image's own filesystem (chroot when root), so the test proves the
//! image holds working binaries and needs no base image.
//!
//! It needs an OCI builder and a release build, so it is ignored by default (and kept out
//! of `.ci/run`): `cargo test --test container -- --ignored`. Where no builder exists it
//! fails, saying so.

use std::path::Path;
use std::process::Command;

const TAG: &str = "localhost/msrp-test:latest";

fn builder() -> Option<&'static str> {
    let works = |cmd: &str, args: &[&str]| {
        Command::new(cmd)
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if works("docker", &["info"]) {
        Some("docker")
    } else if works("podman", &["--version"]) {
        Some("podman")
    } else if works("buildah", &["--version"]) {
        Some("buildah")
    } else {
        None
    }
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Unpacks a docker-archive (manifest.json naming the layers in order) into `rootfs`.
fn unpack(archive: &Path, dir: &Path, rootfs: &Path) {
    std::fs::create_dir_all(rootfs).unwrap();
    run(Command::new("tar")
        .arg("-xf")
        .arg(archive)
        .arg("-C")
        .arg(dir));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap())
            .expect("manifest.json of the archive");
    let layers = manifest[0]["Layers"].as_array().expect("layers");
    assert!(!layers.is_empty());
    for l in layers {
        run(Command::new("tar")
            .arg("-xf")
            .arg(dir.join(l.as_str().unwrap()))
            .arg("-C")
            .arg(rootfs));
    }
}

#[test]
#[ignore = "needs an OCI builder (docker, podman or buildah) and a release build: cargo test --test container -- --ignored"]
fn the_image_builds_and_its_binaries_run() {
    let Some(builder) = builder() else {
        panic!("no OCI builder here (docker with a running daemon, podman or buildah)");
    };
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = run(Command::new(repo.join("contrib/container/build.sh"))
        .arg(TAG)
        .env("MSRP_OCI_BUILDER", builder));
    assert!(
        out.contains(&format!("built {TAG} with {builder}")),
        "{out}"
    );
    let dir = std::env::temp_dir().join(format!("msrp-image-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let archive = dir.join("image.tar");
    match builder {
        "buildah" => run(Command::new("buildah")
            .arg("push")
            .arg(TAG)
            .arg(format!("docker-archive:{}:{TAG}", archive.display()))),
        b => run(Command::new(b).arg("save").arg("-o").arg(&archive).arg(TAG)),
    };
    let rootfs = dir.join("rootfs");
    unpack(&archive, &dir, &rootfs);
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"));
    for bin in ["msrp-server", "msrp-client", "msrp-check", "msrp-sim"] {
        // Inside the image's filesystem when we may chroot: nothing of the host is used.
        let version = if root {
            // Resolved here: the cleared environment has no PATH to find it with.
            let chroot = ["/usr/sbin/chroot", "/usr/bin/chroot", "/sbin/chroot"]
                .into_iter()
                .find(|p| Path::new(p).exists())
                .expect("chroot (coreutils)");
            run(Command::new(chroot)
                .arg(&rootfs)
                .arg(format!("/bin/{bin}"))
                .arg("--version")
                .env_clear())
        } else {
            run(Command::new(rootfs.join("bin").join(bin))
                .arg("--version")
                .env_clear())
        };
        // clap prints the package's name and version (msrp or msrp-reference).
        assert!(
            version.starts_with("msrp") && version.trim_end().ends_with(env!("CARGO_PKG_VERSION")),
            "{bin}: {version}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
