//! `blobtrail generate`: write a synthetic case in the real export shapes, with the ground
//! truth of who uploaded what. Needs no case.

use anyhow::{Context, Result};

use super::Global;
use crate::cli::GenerateArgs;
use crate::exit::Exit;
use crate::generate::{self, GenerateOptions};
use crate::output;

pub fn run(global: &Global, args: GenerateArgs) -> Result<Exit> {
    let options = GenerateOptions { out: args.out.clone(), scale: args.scale, seed: args.seed, skew: args.skew };
    let spinner = output::spinner("generating", global.quiet);
    let summary = generate::generate(&options, &mut |records| {
        spinner.set_message(format!("generating: {records} records"));
    })
    .with_context(|| format!("cannot generate into `{}`", args.out.display()))?;
    spinner.finish_and_clear();

    output::to_stdout(|out| {
        writeln!(out, "{:>10}  file", "records")?;
        for (path, records) in &summary.files {
            writeln!(out, "{:>10}  {}", records, path.display())?;
        }
        writeln!(
            out,
            "{} uploads, {} attributable from the logs (scale {}, seed {}{})",
            summary.uploads,
            summary.attributable,
            args.scale,
            args.seed,
            if args.skew { ", skewed" } else { "" }
        )
    })?;
    Ok(Exit::Success)
}
