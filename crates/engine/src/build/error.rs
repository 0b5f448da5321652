//! [`BuildError`]: what can make a build fail, each naming the line, file or image.

use std::path::PathBuf;

/// A build that failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The Containerfile does not parse, or uses what we do not support.
    #[error("Containerfile line {line}: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// What is wrong, naming the instruction or flag.
        message: String,
    },
    /// An instruction that parses but cannot be carried out as written.
    #[error("Containerfile line {line}: {keyword}: {message}")]
    Instruction {
        /// 1-based line.
        line: usize,
        /// The instruction (`COPY`).
        keyword: String,
        /// What is wrong.
        message: String,
    },
    /// A COPY/ADD source that is missing or outside the context.
    #[error("Containerfile line {line}: {keyword} {source_path}: {message}")]
    Context {
        /// 1-based line.
        line: usize,
        /// COPY or ADD.
        keyword: String,
        /// The source as written.
        source_path: String,
        /// Why it cannot be copied.
        message: String,
    },
    /// A RUN step's command failed.
    #[error(
        "Containerfile line {line}: RUN {command}: exited with code {code}{}",
        if output.is_empty() { String::new() } else { format!("; its output:\n{output}") }
    )]
    RunFailed {
        /// 1-based line.
        line: usize,
        /// The command as written.
        command: String,
        /// Its exit code (128 + signal when killed).
        code: i32,
        /// The end of its output when it was not shown (`-q`), else empty.
        output: String,
    },
    /// A signal (SIGINT, SIGTERM, SIGHUP) stopped the build.
    #[error("the build was interrupted")]
    Interrupted,
    /// No Containerfile.
    #[error("no Containerfile or Dockerfile in {}", .0.display())]
    NoContainerfile(PathBuf),
    /// A file or directory operation failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The engine, the store, the runtime or a mount failed.
    #[error(transparent)]
    Engine(Box<crate::Error>),
}

impl BuildError {
    /// The exit code `peapod build` ends with: a failing RUN's own code, else 125 as for
    /// any engine error (podman's).
    pub fn exit_code(&self) -> u8 {
        match self {
            BuildError::RunFailed { code, .. } => u8::try_from(*code).unwrap_or(1).max(1),
            BuildError::Interrupted => 130,
            _ => 125,
        }
    }

    pub(crate) fn io(
        action: &'static str,
        path: &std::path::Path,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.to_path_buf();
        move |source| BuildError::Io {
            action,
            path,
            source,
        }
    }

    pub(crate) fn at(line: usize, keyword: &str, message: impl Into<String>) -> Self {
        BuildError::Instruction {
            line,
            keyword: keyword.to_owned(),
            message: message.into(),
        }
    }
}

impl From<crate::Error> for BuildError {
    fn from(e: crate::Error) -> Self {
        BuildError::Engine(Box::new(e))
    }
}

impl From<peapod_image::Error> for BuildError {
    fn from(e: peapod_image::Error) -> Self {
        BuildError::Engine(Box::new(e.into()))
    }
}

impl From<crate::rootfs::RootfsError> for BuildError {
    fn from(e: crate::rootfs::RootfsError) -> Self {
        BuildError::Engine(Box::new(e.into()))
    }
}

impl From<peapod_runtime::Error> for BuildError {
    fn from(e: peapod_runtime::Error) -> Self {
        BuildError::Engine(Box::new(e.into()))
    }
}

impl From<crate::spec::SpecError> for BuildError {
    fn from(e: crate::spec::SpecError) -> Self {
        BuildError::Engine(Box::new(e.into()))
    }
}
