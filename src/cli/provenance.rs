//! The command line as the report records it: the arguments as given and every option of the
//! subcommand with the value it had (given, or its default), read back from clap's own
//! definitions so a new option shows up without being listed here.

use clap::parser::ValueSource;
use clap::CommandFactory;

use lathe::report::provenance::Setting;

/// `(arguments, settings)` of this process's command line.
pub fn command_line() -> (Vec<String>, Vec<Setting>) {
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let settings = settings_of(&args);
    (args, settings)
}

/// Every option (with a long name) of the subcommand in `args`, with its value as used.
pub fn settings_of(args: &[String]) -> Vec<Setting> {
    let cmd = super::Cli::command();
    let Ok(matches) = cmd.clone().try_get_matches_from(args) else {
        return Vec::new();
    };
    let Some((name, sub)) = matches.subcommand() else {
        return Vec::new();
    };
    let Some(sub_cmd) = cmd.find_subcommand(name) else {
        return Vec::new();
    };
    sub_cmd
        .get_arguments()
        .filter_map(|arg| {
            let long = arg.get_long()?;
            let id = arg.get_id().as_str();
            let source = sub.value_source(id)?;
            let values: Vec<String> = sub
                .try_get_raw(id)
                .ok()
                .flatten()?
                .map(|v| v.to_string_lossy().into_owned())
                .collect();
            Some(Setting {
                name: format!("--{long}"),
                value: values.join(","),
                given: source == ValueSource::CommandLine,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_option_is_named_with_its_value() {
        let args: Vec<String> = [
            "lathe", "match", "mix.wav", "ref.wav", "-o", "out.wav", "--amount", "80", "--preset",
            "spotify", "--bits", "16",
        ]
        .map(String::from)
        .to_vec();
        let s = settings_of(&args);
        let get = |n: &str| {
            s.iter()
                .find(|x| x.name == n)
                .unwrap_or_else(|| panic!("{n}: {s:?}"))
        };
        assert_eq!(
            (get("--amount").value.as_str(), get("--amount").given),
            ("80", true)
        );
        assert_eq!(get("--preset").value, "spotify");
        assert_eq!(get("--bits").value, "16");
        assert_eq!(get("--output").value, "out.wav");
        // Defaults are listed as such.
        let eq = get("--eq-amount");
        assert_eq!((eq.value.as_str(), eq.given), ("100", false));
        assert!(!get("--no-limiter").given);
    }
}
