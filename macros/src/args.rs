//! Parsing of the attribute's arguments: `#[parallel(MODE, OPTION, ...)]`.
//!
//! Grammar: an optional mode (`auto`, `cpu`, `io`, `seq`; `auto` if left out)
//! followed by comma-separated options: `workers = <usize expr>`,
//! `chunk = <usize expr>`, `label = "<str>"`, `progress` or `progress = <message expr>`,
//! `allow_nested`.
//!
//! Parsing is in two steps so that one build reports every mistake: the
//! syntax step ([`RawItem`]) only fails on tokens it cannot make sense of at
//! all; everything else (unknown names, duplicates, conflicts) is checked by
//! [`Args::from_items`], which reports to the [`Ctxt`] and keeps going.

use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, LitStr, Token};

use crate::ctxt::{Ctxt, help};

/// The keywords of the attribute, so `lookahead1` can list them in its
/// "expected one of" message.
mod kw {
    syn::custom_keyword!(auto);
    syn::custom_keyword!(cpu);
    syn::custom_keyword!(io);
    syn::custom_keyword!(seq);
    syn::custom_keyword!(workers);
    syn::custom_keyword!(chunk);
    syn::custom_keyword!(label);
    syn::custom_keyword!(progress);
    syn::custom_keyword!(allow_nested);
}

/// Every name the attribute accepts, in the order the docs list them.
const NAMES: &[&str] = &[
    "auto",
    "cpu",
    "io",
    "seq",
    "workers",
    "chunk",
    "label",
    "progress",
    "allow_nested",
];

/// Where the loop runs; mirrors the runtime's `autopar::__private::Mode`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// Profile, then decide (the default).
    Auto,
    /// CPU-bound: the work-stealing pool.
    Cpu,
    /// Blocking I/O: the I/O pool.
    Io,
    /// Sequential on the calling thread (keeps the syntax, drops the threads).
    Seq,
}

impl Mode {
    /// The variant's name in `::autopar::__private::Mode`.
    pub fn variant(self) -> &'static str {
        match self {
            Mode::Auto => "Auto",
            Mode::Cpu => "Cpu",
            Mode::Io => "Io",
            Mode::Seq => "Seq",
        }
    }

    fn keyword(self) -> &'static str {
        match self {
            Mode::Auto => "auto",
            Mode::Cpu => "cpu",
            Mode::Io => "io",
            Mode::Seq => "seq",
        }
    }
}

/// The validated arguments of one `#[parallel(..)]` attribute.
///
/// Every field is optional so that a loop's own attribute can be laid over
/// the fn's ([`Args::merged`]).
#[derive(Clone, Default)]
pub struct Args {
    /// The mode and where it was written.
    pub mode: Option<(Mode, Span)>,
    /// `workers = <expr>`.
    pub workers: Option<Expr>,
    /// `chunk = <expr>`.
    pub chunk: Option<Expr>,
    /// `label = "<str>"`.
    pub label: Option<LitStr>,
    /// `progress` (an empty message: the bar shows the label) or
    /// `progress = <expr>` (a `&'static str`, a `String`: `format!(..)`).
    pub progress: Option<Expr>,
    /// `allow_nested`: silences the nested-parallelism warning.
    pub allow_nested: bool,
}

impl Args {
    /// Parses the tokens inside the parentheses of `#[parallel(..)]`.
    ///
    /// Never fails: problems are reported to `cx` and the options that did
    /// parse are kept, so the caller can go on analysing the fn.
    pub fn parse(tokens: TokenStream, cx: &Ctxt) -> Args {
        let parser = Punctuated::<RawItem, Token![,]>::parse_terminated;
        match parser.parse2(tokens) {
            Ok(items) => Args::from_items(items.into_iter().collect(), cx),
            Err(err) => {
                cx.push(err);
                Args::default()
            }
        }
    }

    /// The mode to run in; `auto` when none was given.
    pub fn mode(&self) -> Mode {
        self.mode.map_or(Mode::Auto, |(mode, _)| mode)
    }

    /// `self` (the fn's arguments) overlaid with a loop's own: each option
    /// the loop sets wins.
    ///
    /// A loop that picks `seq` does not inherit the fn's `workers`/`chunk`:
    /// they would conflict with `seq` and the loop asked to be sequential.
    pub fn merged(&self, inner: &Args) -> Args {
        let mode = inner.mode.or(self.mode);
        let inner_seq = inner.mode.is_some_and(|(m, _)| m == Mode::Seq);
        let inherit = |own: &Option<Expr>, outer: &Option<Expr>| match own {
            Some(e) => Some(e.clone()),
            None if inner_seq => None,
            None => outer.clone(),
        };
        Args {
            mode,
            workers: inherit(&inner.workers, &self.workers),
            chunk: inherit(&inner.chunk, &self.chunk),
            label: inner.label.clone().or_else(|| self.label.clone()),
            progress: inner.progress.clone().or_else(|| self.progress.clone()),
            allow_nested: inner.allow_nested || self.allow_nested,
        }
    }

    /// Checks the raw items and builds the arguments, reporting every
    /// problem to `cx`.
    fn from_items(items: Vec<RawItem>, cx: &Ctxt) -> Args {
        let mut args = Args::default();
        let mut seen_option = false;
        // The spans of the first `workers`/`chunk`, to report a `seq` conflict.
        let mut sized: Vec<(&'static str, Span)> = Vec::new();
        let mut label_seen = false;
        let mut progress_seen = false;
        for item in items {
            let span = item.name.span();
            match item.key {
                Key::Mode(mode) => {
                    if let Some(value) = &item.value {
                        cx.error_spanned_by(
                            value,
                            help(
                                format!("`{}` is a mode and takes no value", mode.keyword()),
                                format!("write `#[parallel({})]`", mode.keyword()),
                            ),
                        );
                    }
                    if let Some((first, _)) = args.mode {
                        let msg = if first == mode {
                            format!("duplicate mode `{}`", mode.keyword())
                        } else {
                            format!(
                                "conflicting modes `{}` and `{}`",
                                first.keyword(),
                                mode.keyword()
                            )
                        };
                        cx.error(
                            span,
                            help(msg, "give one mode: `auto`, `cpu`, `io` or `seq`"),
                        );
                    } else if seen_option {
                        cx.error(
                            span,
                            help(
                                format!("the mode `{}` must come first", mode.keyword()),
                                format!("write `#[parallel({}, ...)]`", mode.keyword()),
                            ),
                        );
                        args.mode = Some((mode, span));
                    } else {
                        args.mode = Some((mode, span));
                    }
                }
                Key::Workers | Key::Chunk => {
                    seen_option = true;
                    let name = if item.key == Key::Workers {
                        "workers"
                    } else {
                        "chunk"
                    };
                    let slot = if item.key == Key::Workers {
                        &mut args.workers
                    } else {
                        &mut args.chunk
                    };
                    let Some(value) = item.value else {
                        cx.error(
                            span,
                            help(
                                format!("`{name}` needs a value"),
                                format!("write `{name} = 8` (any `usize` expression)"),
                            ),
                        );
                        continue;
                    };
                    if slot.is_some() {
                        cx.error(
                            span,
                            help(format!("duplicate option `{name}`"), "give it once"),
                        );
                        continue;
                    }
                    if is_literal_zero(&value) {
                        let reason = if name == "workers" {
                            help(
                                "`workers = 0` leaves no thread to run the loop",
                                "use `workers = 1` or more, or `seq` to run on the calling thread",
                            )
                        } else {
                            help(
                                "`chunk = 0` makes empty chunks",
                                "use `chunk = 1` or more, or leave `chunk` out to let autopar pick",
                            )
                        };
                        cx.error_spanned_by(&value, reason);
                    }
                    sized.push((name, span));
                    *slot = Some(value);
                }
                Key::Label => {
                    seen_option = true;
                    match item.value {
                        Some(Expr::Lit(syn::ExprLit {
                            lit: syn::Lit::Str(s),
                            ..
                        })) => {
                            if label_seen {
                                cx.error(span, help("duplicate option `label`", "give it once"));
                            } else {
                                args.label = Some(s);
                            }
                        }
                        Some(other) => cx.error_spanned_by(
                            other,
                            help(
                                "`label` needs a string literal",
                                "write `label = \"resize images\"`",
                            ),
                        ),
                        None => cx.error(
                            span,
                            help("`label` needs a value", "write `label = \"resize images\"`"),
                        ),
                    }
                    label_seen = true;
                }
                Key::Progress => {
                    seen_option = true;
                    let message = match item.value {
                        None => Some(Expr::Lit(syn::ExprLit {
                            attrs: Vec::new(),
                            lit: syn::Lit::Str(LitStr::new("", span)),
                        })),
                        // A literal of another kind is a mistake seen here; any other
                        // expression is checked by the compiler (it must be a message).
                        Some(Expr::Lit(syn::ExprLit { lit, .. }))
                            if !matches!(lit, syn::Lit::Str(_)) =>
                        {
                            cx.error_spanned_by(
                                lit,
                                help(
                                    "`progress` takes the bar's message: a string",
                                    "write `progress = \"Downloading\"`, `progress = format!(\"{n} files\")`, or `progress` alone",
                                ),
                            );
                            None
                        }
                        Some(message) => Some(message),
                    };
                    if progress_seen {
                        cx.error(span, help("duplicate option `progress`", "give it once"));
                    } else {
                        args.progress = message;
                    }
                    progress_seen = true;
                }
                Key::AllowNested => {
                    seen_option = true;
                    if let Some(value) = &item.value {
                        cx.error_spanned_by(
                            value,
                            help(
                                "`allow_nested` is a flag and takes no value",
                                "write `allow_nested`",
                            ),
                        );
                    }
                    if args.allow_nested {
                        cx.error(
                            span,
                            help("duplicate option `allow_nested`", "give it once"),
                        );
                    }
                    args.allow_nested = true;
                }
                Key::Unknown => {
                    seen_option = true;
                    let name = item.name.unraw().to_string();
                    let alternative = match closest(&name) {
                        Some(best) => format!("did you mean `{best}`?"),
                        None => format!("expected one of {}", list_names()),
                    };
                    cx.error(
                        span,
                        help(format!("unknown mode or option `{name}`"), alternative),
                    );
                }
            }
        }
        if let Some((Mode::Seq, _)) = args.mode {
            for (name, span) in sized {
                cx.error(
                    span,
                    help(
                        format!("`{name}` conflicts with `seq`, which runs the loop on the calling thread"),
                        format!("remove `{name}`, or pick `auto`, `cpu` or `io`"),
                    ),
                );
            }
        }
        args
    }
}

/// What an item of the list names.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Key {
    Mode(Mode),
    Workers,
    Chunk,
    Label,
    Progress,
    AllowNested,
    Unknown,
}

/// One comma-separated item before validation: a name and an optional
/// `= value`.
struct RawItem {
    key: Key,
    name: Ident,
    value: Option<Expr>,
}

impl Parse for RawItem {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        // `lookahead1` builds the "expected one of: `auto`, `cpu`, ..." error
        // for input that is not a name at all (`#[parallel(8)]`).
        let la = input.lookahead1();
        let key = if la.peek(kw::auto) {
            Key::Mode(Mode::Auto)
        } else if la.peek(kw::cpu) {
            Key::Mode(Mode::Cpu)
        } else if la.peek(kw::io) {
            Key::Mode(Mode::Io)
        } else if la.peek(kw::seq) {
            Key::Mode(Mode::Seq)
        } else if la.peek(kw::workers) {
            Key::Workers
        } else if la.peek(kw::chunk) {
            Key::Chunk
        } else if la.peek(kw::label) {
            Key::Label
        } else if la.peek(kw::progress) {
            Key::Progress
        } else if la.peek(kw::allow_nested) {
            Key::AllowNested
        } else if input.peek(Ident::peek_any) {
            // A name we do not know: keep it, `from_items` suggests the
            // closest known one.
            Key::Unknown
        } else {
            return Err(la.error());
        };
        let name = Ident::parse_any(input)?;
        let value = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            Some(input.parse::<Expr>()?)
        } else {
            None
        };
        if !input.is_empty() && !input.peek(Token![,]) {
            return Err(input.error("expected `,` between options"));
        }
        Ok(RawItem { key, name, value })
    }
}

/// `0`, `0usize`, `(0)`: a value the user surely did not mean.
fn is_literal_zero(expr: &Expr) -> bool {
    match expr {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(int),
            ..
        }) => int.base10_digits().chars().all(|c| c == '0'),
        Expr::Paren(p) => is_literal_zero(&p.expr),
        Expr::Group(g) => is_literal_zero(&g.expr),
        _ => false,
    }
}

/// "`auto`, `cpu`, ..., or `allow_nested`".
fn list_names() -> String {
    let quoted: Vec<String> = NAMES.iter().map(|n| format!("`{n}`")).collect();
    quoted.join(", ")
}

/// The known name closest to `name`: common synonyms first, then the
/// nearest by edit distance (at most a third of the word, at least 1).
fn closest(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    let synonym = match lower.as_str() {
        "threads" | "thread" | "num_threads" | "jobs" | "n_jobs" | "pool_size" | "worker" => {
            Some("workers")
        }
        "chunk_size" | "chunksize" | "chunks" | "batch" | "batch_size" | "grain" | "min_len" => {
            Some("chunk")
        }
        "name" | "tag" | "title" => Some("label"),
        "nested" | "allow_nesting" | "nest" => Some("allow_nested"),
        "progress_bar" | "bar" | "show_progress" | "progressbar" => Some("progress"),
        "sequential" | "serial" | "none" | "off" => Some("seq"),
        "compute" | "cpu_bound" | "rayon" => Some("cpu"),
        "blocking" | "io_bound" | "i_o" => Some("io"),
        "automatic" | "default" => Some("auto"),
        _ => None,
    };
    if synonym.is_some() {
        return synonym;
    }
    let limit = (lower.chars().count() / 3).max(1);
    NAMES
        .iter()
        .map(|known| (edit_distance(&lower, known), *known))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, known)| known)
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = Vec::with_capacity(b.len() + 1);
        cur.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != *cb);
            let delete = prev[j + 1] + 1;
            let insert = cur[j] + 1;
            cur.push(substitute.min(delete).min(insert));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::{ToTokens, quote};

    fn parse(tokens: TokenStream) -> (Args, Vec<String>) {
        let cx = Ctxt::new();
        let args = Args::parse(tokens, &cx);
        let errors = match cx.check() {
            Ok(()) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        };
        (args, errors)
    }

    #[test]
    fn empty_is_auto() {
        let (args, errors) = parse(quote!());
        assert!(errors.is_empty());
        assert_eq!(args.mode(), Mode::Auto);
        assert!(args.workers.is_none() && args.chunk.is_none() && args.label.is_none());
    }

    #[test]
    fn full_form() {
        let (args, errors) = parse(quote!(
            io,
            workers = 50,
            chunk = n / 4,
            label = "fetch",
            progress = "Downloading",
            allow_nested,
        ));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(args.mode(), Mode::Io);
        assert!(args.workers.is_some() && args.chunk.is_some());
        assert_eq!(args.label.unwrap().value(), "fetch");
        assert_eq!(text(args.progress), "\"Downloading\"");
        assert!(args.allow_nested);
    }

    /// An optional expression as source text.
    fn text(expr: Option<Expr>) -> String {
        expr.expect("an expression").to_token_stream().to_string()
    }

    #[test]
    fn progress_flag_and_message() {
        let (args, errors) = parse(quote!(seq, progress));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(text(args.progress), "\"\"");
        let (args, errors) = parse(quote!(io, progress = format!("{} files", n)));
        assert!(errors.is_empty(), "{errors:?}");
        assert!(text(args.progress).starts_with("format !"));
        let (_, errors) = parse(quote!(progress = 3, progress, progress_bar));
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].contains("`progress` takes the bar's message"));
        assert!(errors[1].contains("duplicate option `progress`"));
        assert!(errors[2].contains("did you mean `progress`?"));
        let (outer, _) = parse(quote!(io, progress = "fn"));
        let (inner, _) = parse(quote!(cpu));
        assert_eq!(text(outer.merged(&inner).progress), "\"fn\"");
    }

    #[test]
    fn options_without_mode() {
        let (args, errors) = parse(quote!(workers = 2));
        assert!(errors.is_empty());
        assert_eq!(args.mode(), Mode::Auto);
    }

    #[test]
    fn unknown_names_suggest() {
        let (_, errors) = parse(quote!(cpuu, threads = 4, wrkers = 2, frobnicate));
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(errors[0].contains("did you mean `cpu`?"));
        assert!(errors[1].contains("did you mean `workers`?"));
        assert!(errors[2].contains("did you mean `workers`?"));
        assert!(errors[3].contains("expected one of `auto`"));
    }

    #[test]
    fn conflicts_and_duplicates() {
        let (_, errors) = parse(quote!(seq, workers = 4, chunk = 2));
        assert_eq!(errors.len(), 2);
        assert!(errors[0].contains("`workers` conflicts with `seq`"));
        let (_, errors) = parse(quote!(cpu, io));
        assert!(errors[0].contains("conflicting modes `cpu` and `io`"));
        let (_, errors) = parse(quote!(workers = 1, workers = 2));
        assert!(errors[0].contains("duplicate option `workers`"));
        let (_, errors) = parse(quote!(workers = 2, io));
        assert!(errors[0].contains("must come first"));
    }

    #[test]
    fn zero_and_missing_values() {
        let (_, errors) = parse(quote!(workers = 0, chunk = 0usize));
        assert_eq!(errors.len(), 2);
        let (_, errors) = parse(quote!(workers, label = 3, allow_nested = true, cpu = 1));
        // The last also comes after options: "must come first".
        assert_eq!(errors.len(), 5, "{errors:?}");
    }

    #[test]
    fn syntax_errors_use_lookahead() {
        let (_, errors) = parse(quote!(8));
        assert!(errors[0].starts_with("expected one of"), "{errors:?}");
        let (_, errors) = parse(quote!(workers = ));
        assert_eq!(errors.len(), 1);
        let (_, errors) = parse(quote!(cpu io));
        assert!(errors[0].contains("expected `,`"), "{errors:?}");
    }

    #[test]
    fn merge_inner_wins() {
        let (outer, _) = parse(quote!(io, workers = 50, label = "fn"));
        let (inner, _) = parse(quote!(cpu, label = "loop"));
        let merged = outer.merged(&inner);
        assert_eq!(merged.mode(), Mode::Cpu);
        assert!(merged.workers.is_some());
        assert_eq!(merged.label.unwrap().value(), "loop");
        let (seq, _) = parse(quote!(seq));
        let merged = outer.merged(&seq);
        assert!(merged.workers.is_none(), "seq must not inherit workers");
    }

    #[test]
    fn distance() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "io"), 2);
    }
}
