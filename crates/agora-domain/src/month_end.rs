//! The month end (reference 3 and 3.1): the OEM sends a draft invoice with
//! "the list, in CSV format, of all approved claim reports in the previous
//! month"; the service center checks it against its files before sending
//! its invoice number. Reading that CSV ([`read_claims_csv`]), writing one
//! as an OEM would ([`write_claims_csv`], the simulator's), and the
//! matching rule ([`reconcile`]). Pure: the bytes and the time zone are
//! passed in.

mod csv_file;
mod reconcile;

pub use csv_file::{
    ClaimsCsv, CsvClaim, CsvColumns, CsvDateForm, CsvEncoding, CsvError, CsvHeaders, CsvLayout,
    CsvLine, CsvMapping, CsvSeparator, parse_amount, parse_date, read_claims_csv, write_claims_csv,
};
pub use reconcile::{
    Differs, LocalClaim, Matched, Missing, NotAccepted, Period, PeriodError, Reconciliation,
    reconcile,
};
