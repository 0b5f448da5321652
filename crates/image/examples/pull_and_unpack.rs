//! Pulls an image and unpacks it into a directory, with `peapod-image` alone:
//! `cargo run -p peapod-image --example pull_and_unpack -- IMAGE DIR [STORE]`.

use std::path::Path;
use std::process::ExitCode;

use peapod_image::Images;
use peapod_image::images::PullOptions;
use peapod_image::pull::Quiet;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [image, dir, rest @ ..] = args.as_slice() else {
        eprintln!("usage: pull_and_unpack IMAGE DIR [STORE]");
        return ExitCode::from(2);
    };
    let store = rest
        .first()
        .map_or("/tmp/peapod-image-example", String::as_str);
    let run = || -> Result<(), peapod_image::Error> {
        let images = Images::open(Path::new(store))?;
        let pulled = images.pull(image, &PullOptions::default(), &Quiet)?;
        let record = images.unpack_into(&pulled.id.to_string(), Path::new(dir))?;
        println!(
            "{} ({} layers) unpacked into {dir}",
            pulled.id,
            record.layers.len()
        );
        Ok(())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
