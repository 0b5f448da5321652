//! One layer tar into a directory, safely, with OCI whiteouts turned into overlay whiteouts.
//! Arrives with the images issue.
