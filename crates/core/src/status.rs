//! Statuses as enums, not strings: `text_enum!` gives an enum whose variants are stored and sent as
//! fixed lowercase words its text (`as_str`), parsing back (`parse`), `Display`, and comparison with
//! the word (`status == "active"`), so every block's statuses are checked names with one spelling.

/// `text_enum!(MemberStatus { Active = "active", Suspended = "suspended" })` for an enum declared
/// with those variants (and its own derives, e.g. serde's `rename_all = "lowercase"`).
#[macro_export]
macro_rules! text_enum {
    ($name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and transmitted word.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The value the word names, if any.
            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }

            /// Every word, for a message naming what a field may be: "a, b or c".
            pub fn words() -> String {
                let all: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                match all.split_last() {
                    Some((last, [])) => (*last).to_owned(),
                    Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
                    None => String::new(),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}

#[cfg(test)]
mod tests {
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Light {
        Red,
        Green,
    }
    crate::text_enum!(Light { Red = "red", Green = "green" });

    #[test]
    fn words_round_trip() {
        for l in Light::ALL {
            assert_eq!(Light::parse(l.as_str()), Some(*l));
        }
        assert_eq!(Light::parse("blue"), None);
        assert!(Light::Green == "green" && Light::Red.to_string() == "red");
        assert_eq!(Light::words(), "red or green");
    }
}
