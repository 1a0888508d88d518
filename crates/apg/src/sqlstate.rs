//! SQLSTATE codes: [`SqlState`].
//!
//! The table follows PostgreSQL's `src/backend/utils/errcodes.txt` (PostgreSQL 15): one
//! variant per code, named after the code's `ERRCODE_` macro in CamelCase
//! (`ERRCODE_UNIQUE_VIOLATION` is [`SqlState::UniqueViolation`]). Codes not in the table
//! (newer servers, extensions, other PostgreSQL-compatible servers) are kept as
//! [`SqlState::Other`].
//!
//! <https://www.postgresql.org/docs/current/errcodes-appendix.html>

use std::fmt;

macro_rules! sqlstates {
    ($($(#[$doc:meta])* $name:ident = $code:literal,)*) => {
        /// A SQLSTATE error code, as in [`DbError::code`](crate::DbError::code).
        ///
        /// ```
        /// use apg::SqlState;
        ///
        /// assert_eq!(SqlState::from_code("23505"), SqlState::UniqueViolation);
        /// assert_eq!(SqlState::UniqueViolation.code(), "23505");
        /// assert_eq!(SqlState::from_code("XX999").code(), "XX999");
        /// ```
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum SqlState {
            $($(#[$doc])* $name,)*
            /// A code not in the table; [`code`](SqlState::code) returns it.
            Other(RawSqlState),
        }

        impl SqlState {
            /// The state for a five-character code.
            pub fn from_code(code: &str) -> Self {
                match code {
                    $($code => Self::$name,)*
                    other => Self::Other(RawSqlState::new(other)),
                }
            }

            /// The five-character code.
            pub fn code(&self) -> &str {
                match self {
                    $(Self::$name => $code,)*
                    Self::Other(raw) => raw.as_str(),
                }
            }
        }
    };
}

/// A SQLSTATE code outside [`SqlState`]'s table, kept as received (at most five ASCII
/// characters; anything else is replaced by `?`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RawSqlState {
    bytes: [u8; 5],
    len: u8,
}

impl RawSqlState {
    fn new(code: &str) -> Self {
        let mut bytes = [0u8; 5];
        let mut len = 0u8;
        for (slot, b) in bytes.iter_mut().zip(code.bytes()) {
            *slot = if b.is_ascii_alphanumeric() { b } else { b'?' };
            len += 1;
        }
        Self { bytes, len }
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        let bytes = self.bytes.get(..usize::from(self.len)).unwrap_or_default();
        // Only ASCII bytes are ever stored.
        std::str::from_utf8(bytes).unwrap_or_default()
    }
}

impl fmt::Debug for RawSqlState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl SqlState {
    /// The class: the first two characters (`23` for integrity constraint violations).
    pub fn class(&self) -> &str {
        self.code().get(..2).unwrap_or_default()
    }
}

impl fmt::Display for SqlState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

sqlstates! {
    // Class 00 - Successful Completion
    /// `00000`: successful_completion.
    SuccessfulCompletion = "00000",
    // Class 01 - Warning
    /// `01000`: warning.
    Warning = "01000",
    /// `0100C`: dynamic_result_sets_returned.
    WarningDynamicResultSetsReturned = "0100C",
    /// `01008`: implicit_zero_bit_padding.
    WarningImplicitZeroBitPadding = "01008",
    /// `01003`: null_value_eliminated_in_set_function.
    WarningNullValueEliminatedInSetFunction = "01003",
    /// `01007`: privilege_not_granted.
    WarningPrivilegeNotGranted = "01007",
    /// `01006`: privilege_not_revoked.
    WarningPrivilegeNotRevoked = "01006",
    /// `01004`: string_data_right_truncation.
    WarningStringDataRightTruncation = "01004",
    /// `01P01`: deprecated_feature.
    WarningDeprecatedFeature = "01P01",
    // Class 02 - No Data (this is also a warning class per the SQL standard)
    /// `02000`: no_data.
    NoData = "02000",
    /// `02001`: no_additional_dynamic_result_sets_returned.
    NoAdditionalDynamicResultSetsReturned = "02001",
    // Class 03 - SQL Statement Not Yet Complete
    /// `03000`: sql_statement_not_yet_complete.
    SqlStatementNotYetComplete = "03000",
    // Class 08 - Connection Exception
    /// `08000`: connection_exception.
    ConnectionException = "08000",
    /// `08003`: connection_does_not_exist.
    ConnectionDoesNotExist = "08003",
    /// `08006`: connection_failure.
    ConnectionFailure = "08006",
    /// `08001`: sqlclient_unable_to_establish_sqlconnection.
    SqlclientUnableToEstablishSqlconnection = "08001",
    /// `08004`: sqlserver_rejected_establishment_of_sqlconnection.
    SqlserverRejectedEstablishmentOfSqlconnection = "08004",
    /// `08007`: transaction_resolution_unknown.
    TransactionResolutionUnknown = "08007",
    /// `08P01`: protocol_violation.
    ProtocolViolation = "08P01",
    // Class 09 - Triggered Action Exception
    /// `09000`: triggered_action_exception.
    TriggeredActionException = "09000",
    // Class 0A - Feature Not Supported
    /// `0A000`: feature_not_supported.
    FeatureNotSupported = "0A000",
    // Class 0B - Invalid Transaction Initiation
    /// `0B000`: invalid_transaction_initiation.
    InvalidTransactionInitiation = "0B000",
    // Class 0F - Locator Exception
    /// `0F000`: locator_exception.
    LocatorException = "0F000",
    /// `0F001`: invalid_locator_specification.
    LEInvalidSpecification = "0F001",
    // Class 0L - Invalid Grantor
    /// `0L000`: invalid_grantor.
    InvalidGrantor = "0L000",
    /// `0LP01`: invalid_grant_operation.
    InvalidGrantOperation = "0LP01",
    // Class 0P - Invalid Role Specification
    /// `0P000`: invalid_role_specification.
    InvalidRoleSpecification = "0P000",
    // Class 0Z - Diagnostics Exception
    /// `0Z000`: diagnostics_exception.
    DiagnosticsException = "0Z000",
    /// `0Z002`: stacked_diagnostics_accessed_without_active_handler.
    StackedDiagnosticsAccessedWithoutActiveHandler = "0Z002",
    // Class 20 - Case Not Found
    /// `20000`: case_not_found.
    CaseNotFound = "20000",
    // Class 21 - Cardinality Violation
    /// `21000`: cardinality_violation.
    CardinalityViolation = "21000",
    // Class 22 - Data Exception
    /// `22000`: data_exception.
    DataException = "22000",
    /// `2202E`: array_subscript_error.
    ArraySubscriptError = "2202E",
    /// `22021`: character_not_in_repertoire.
    CharacterNotInRepertoire = "22021",
    /// `22008`: datetime_field_overflow.
    DatetimeFieldOverflow = "22008",
    /// `22012`: division_by_zero.
    DivisionByZero = "22012",
    /// `22005`: error_in_assignment.
    ErrorInAssignment = "22005",
    /// `2200B`: escape_character_conflict.
    EscapeCharacterConflict = "2200B",
    /// `22022`: indicator_overflow.
    IndicatorOverflow = "22022",
    /// `22015`: interval_field_overflow.
    IntervalFieldOverflow = "22015",
    /// `2201E`: invalid_argument_for_logarithm.
    InvalidArgumentForLog = "2201E",
    /// `22014`: invalid_argument_for_ntile_function.
    InvalidArgumentForNtile = "22014",
    /// `22016`: invalid_argument_for_nth_value_function.
    InvalidArgumentForNthValue = "22016",
    /// `2201F`: invalid_argument_for_power_function.
    InvalidArgumentForPowerFunction = "2201F",
    /// `2201G`: invalid_argument_for_width_bucket_function.
    InvalidArgumentForWidthBucketFunction = "2201G",
    /// `22018`: invalid_character_value_for_cast.
    InvalidCharacterValueForCast = "22018",
    /// `22007`: invalid_datetime_format.
    InvalidDatetimeFormat = "22007",
    /// `22019`: invalid_escape_character.
    InvalidEscapeCharacter = "22019",
    /// `2200D`: invalid_escape_octet.
    InvalidEscapeOctet = "2200D",
    /// `22025`: invalid_escape_sequence.
    InvalidEscapeSequence = "22025",
    /// `22P06`: nonstandard_use_of_escape_character.
    NonstandardUseOfEscapeCharacter = "22P06",
    /// `22010`: invalid_indicator_parameter_value.
    InvalidIndicatorParameterValue = "22010",
    /// `22023`: invalid_parameter_value.
    InvalidParameterValue = "22023",
    /// `22013`: invalid_preceding_or_following_size.
    InvalidPrecedingOrFollowingSize = "22013",
    /// `2201B`: invalid_regular_expression.
    InvalidRegularExpression = "2201B",
    /// `2201W`: invalid_row_count_in_limit_clause.
    InvalidRowCountInLimitClause = "2201W",
    /// `2201X`: invalid_row_count_in_result_offset_clause.
    InvalidRowCountInResultOffsetClause = "2201X",
    /// `2202H`: invalid_tablesample_argument.
    InvalidTablesampleArgument = "2202H",
    /// `2202G`: invalid_tablesample_repeat.
    InvalidTablesampleRepeat = "2202G",
    /// `22009`: invalid_time_zone_displacement_value.
    InvalidTimeZoneDisplacementValue = "22009",
    /// `2200C`: invalid_use_of_escape_character.
    InvalidUseOfEscapeCharacter = "2200C",
    /// `2200G`: most_specific_type_mismatch.
    MostSpecificTypeMismatch = "2200G",
    /// `22004`: null_value_not_allowed.
    NullValueNotAllowed = "22004",
    /// `22002`: null_value_no_indicator_parameter.
    NullValueNoIndicatorParameter = "22002",
    /// `22003`: numeric_value_out_of_range.
    NumericValueOutOfRange = "22003",
    /// `2200H`: sequence_generator_limit_exceeded.
    SequenceGeneratorLimitExceeded = "2200H",
    /// `22026`: string_data_length_mismatch.
    StringDataLengthMismatch = "22026",
    /// `22001`: string_data_right_truncation.
    StringDataRightTruncation = "22001",
    /// `22011`: substring_error.
    SubstringError = "22011",
    /// `22027`: trim_error.
    TrimError = "22027",
    /// `22024`: unterminated_c_string.
    UnterminatedCString = "22024",
    /// `2200F`: zero_length_character_string.
    ZeroLengthCharacterString = "2200F",
    /// `22P01`: floating_point_exception.
    FloatingPointException = "22P01",
    /// `22P02`: invalid_text_representation.
    InvalidTextRepresentation = "22P02",
    /// `22P03`: invalid_binary_representation.
    InvalidBinaryRepresentation = "22P03",
    /// `22P04`: bad_copy_file_format.
    BadCopyFileFormat = "22P04",
    /// `22P05`: untranslatable_character.
    UntranslatableCharacter = "22P05",
    /// `2200L`: not_an_xml_document.
    NotAnXmlDocument = "2200L",
    /// `2200M`: invalid_xml_document.
    InvalidXmlDocument = "2200M",
    /// `2200N`: invalid_xml_content.
    InvalidXmlContent = "2200N",
    /// `2200S`: invalid_xml_comment.
    InvalidXmlComment = "2200S",
    /// `2200T`: invalid_xml_processing_instruction.
    InvalidXmlProcessingInstruction = "2200T",
    /// `22030`: duplicate_json_object_key_value.
    DuplicateJsonObjectKeyValue = "22030",
    /// `22031`: invalid_argument_for_sql_json_datetime_function.
    InvalidArgumentForSqlJsonDatetimeFunction = "22031",
    /// `22032`: invalid_json_text.
    InvalidJsonText = "22032",
    /// `22033`: invalid_sql_json_subscript.
    InvalidSqlJsonSubscript = "22033",
    /// `22034`: more_than_one_sql_json_item.
    MoreThanOneSqlJsonItem = "22034",
    /// `22035`: no_sql_json_item.
    NoSqlJsonItem = "22035",
    /// `22036`: non_numeric_sql_json_item.
    NonNumericSqlJsonItem = "22036",
    /// `22037`: non_unique_keys_in_a_json_object.
    NonUniqueKeysInAJsonObject = "22037",
    /// `22038`: singleton_sql_json_item_required.
    SingletonSqlJsonItemRequired = "22038",
    /// `22039`: sql_json_array_not_found.
    SqlJsonArrayNotFound = "22039",
    /// `2203A`: sql_json_member_not_found.
    SqlJsonMemberNotFound = "2203A",
    /// `2203B`: sql_json_number_not_found.
    SqlJsonNumberNotFound = "2203B",
    /// `2203C`: sql_json_object_not_found.
    SqlJsonObjectNotFound = "2203C",
    /// `2203D`: too_many_json_array_elements.
    TooManyJsonArrayElements = "2203D",
    /// `2203E`: too_many_json_object_members.
    TooManyJsonObjectMembers = "2203E",
    /// `2203F`: sql_json_scalar_required.
    SqlJsonScalarRequired = "2203F",
    /// `2203G`: sql_json_item_cannot_be_cast_to_target_type.
    SqlJsonItemCannotBeCastToTargetType = "2203G",
    // Class 23 - Integrity Constraint Violation
    /// `23000`: integrity_constraint_violation.
    IntegrityConstraintViolation = "23000",
    /// `23001`: restrict_violation.
    RestrictViolation = "23001",
    /// `23502`: not_null_violation.
    NotNullViolation = "23502",
    /// `23503`: foreign_key_violation.
    ForeignKeyViolation = "23503",
    /// `23505`: unique_violation.
    UniqueViolation = "23505",
    /// `23514`: check_violation.
    CheckViolation = "23514",
    /// `23P01`: exclusion_violation.
    ExclusionViolation = "23P01",
    // Class 24 - Invalid Cursor State
    /// `24000`: invalid_cursor_state.
    InvalidCursorState = "24000",
    // Class 25 - Invalid Transaction State
    /// `25000`: invalid_transaction_state.
    InvalidTransactionState = "25000",
    /// `25001`: active_sql_transaction.
    ActiveSqlTransaction = "25001",
    /// `25002`: branch_transaction_already_active.
    BranchTransactionAlreadyActive = "25002",
    /// `25008`: held_cursor_requires_same_isolation_level.
    HeldCursorRequiresSameIsolationLevel = "25008",
    /// `25003`: inappropriate_access_mode_for_branch_transaction.
    InappropriateAccessModeForBranchTransaction = "25003",
    /// `25004`: inappropriate_isolation_level_for_branch_transaction.
    InappropriateIsolationLevelForBranchTransaction = "25004",
    /// `25005`: no_active_sql_transaction_for_branch_transaction.
    NoActiveSqlTransactionForBranchTransaction = "25005",
    /// `25006`: read_only_sql_transaction.
    ReadOnlySqlTransaction = "25006",
    /// `25007`: schema_and_data_statement_mixing_not_supported.
    SchemaAndDataStatementMixingNotSupported = "25007",
    /// `25P01`: no_active_sql_transaction.
    NoActiveSqlTransaction = "25P01",
    /// `25P02`: in_failed_sql_transaction.
    InFailedSqlTransaction = "25P02",
    /// `25P03`: idle_in_transaction_session_timeout.
    IdleInTransactionSessionTimeout = "25P03",
    // Class 26 - Invalid SQL Statement Name
    /// `26000`: invalid_sql_statement_name.
    InvalidSqlStatementName = "26000",
    // Class 27 - Triggered Data Change Violation
    /// `27000`: triggered_data_change_violation.
    TriggeredDataChangeViolation = "27000",
    // Class 28 - Invalid Authorization Specification
    /// `28000`: invalid_authorization_specification.
    InvalidAuthorizationSpecification = "28000",
    /// `28P01`: invalid_password.
    InvalidPassword = "28P01",
    // Class 2B - Dependent Privilege Descriptors Still Exist
    /// `2B000`: dependent_privilege_descriptors_still_exist.
    DependentPrivilegeDescriptorsStillExist = "2B000",
    /// `2BP01`: dependent_objects_still_exist.
    DependentObjectsStillExist = "2BP01",
    // Class 2D - Invalid Transaction Termination
    /// `2D000`: invalid_transaction_termination.
    InvalidTransactionTermination = "2D000",
    // Class 2F - SQL Routine Exception
    /// `2F000`: sql_routine_exception.
    SqlRoutineException = "2F000",
    /// `2F005`: function_executed_no_return_statement.
    SREFunctionExecutedNoReturnStatement = "2F005",
    /// `2F002`: modifying_sql_data_not_permitted.
    SREModifyingSqlDataNotPermitted = "2F002",
    /// `2F003`: prohibited_sql_statement_attempted.
    SREProhibitedSqlStatementAttempted = "2F003",
    /// `2F004`: reading_sql_data_not_permitted.
    SREReadingSqlDataNotPermitted = "2F004",
    // Class 34 - Invalid Cursor Name
    /// `34000`: invalid_cursor_name.
    InvalidCursorName = "34000",
    // Class 38 - External Routine Exception
    /// `38000`: external_routine_exception.
    ExternalRoutineException = "38000",
    /// `38001`: containing_sql_not_permitted.
    EREContainingSqlNotPermitted = "38001",
    /// `38002`: modifying_sql_data_not_permitted.
    EREModifyingSqlDataNotPermitted = "38002",
    /// `38003`: prohibited_sql_statement_attempted.
    EREProhibitedSqlStatementAttempted = "38003",
    /// `38004`: reading_sql_data_not_permitted.
    EREReadingSqlDataNotPermitted = "38004",
    // Class 39 - External Routine Invocation Exception
    /// `39000`: external_routine_invocation_exception.
    ExternalRoutineInvocationException = "39000",
    /// `39001`: invalid_sqlstate_returned.
    ERIEInvalidSqlstateReturned = "39001",
    /// `39004`: null_value_not_allowed.
    ERIENullValueNotAllowed = "39004",
    /// `39P01`: trigger_protocol_violated.
    ERIETriggerProtocolViolated = "39P01",
    /// `39P02`: srf_protocol_violated.
    ERIESrfProtocolViolated = "39P02",
    /// `39P03`: event_trigger_protocol_violated.
    ERIEEventTriggerProtocolViolated = "39P03",
    // Class 3B - Savepoint Exception
    /// `3B000`: savepoint_exception.
    SavepointException = "3B000",
    /// `3B001`: invalid_savepoint_specification.
    SEInvalidSpecification = "3B001",
    // Class 3D - Invalid Catalog Name
    /// `3D000`: invalid_catalog_name.
    InvalidCatalogName = "3D000",
    // Class 3F - Invalid Schema Name
    /// `3F000`: invalid_schema_name.
    InvalidSchemaName = "3F000",
    // Class 40 - Transaction Rollback
    /// `40000`: transaction_rollback.
    TransactionRollback = "40000",
    /// `40002`: transaction_integrity_constraint_violation.
    TRIntegrityConstraintViolation = "40002",
    /// `40001`: serialization_failure.
    TRSerializationFailure = "40001",
    /// `40003`: statement_completion_unknown.
    TRStatementCompletionUnknown = "40003",
    /// `40P01`: deadlock_detected.
    TRDeadlockDetected = "40P01",
    // Class 42 - Syntax Error or Access Rule Violation
    /// `42000`: syntax_error_or_access_rule_violation.
    SyntaxErrorOrAccessRuleViolation = "42000",
    /// `42601`: syntax_error.
    SyntaxError = "42601",
    /// `42501`: insufficient_privilege.
    InsufficientPrivilege = "42501",
    /// `42846`: cannot_coerce.
    CannotCoerce = "42846",
    /// `42803`: grouping_error.
    GroupingError = "42803",
    /// `42P20`: windowing_error.
    WindowingError = "42P20",
    /// `42P19`: invalid_recursion.
    InvalidRecursion = "42P19",
    /// `42830`: invalid_foreign_key.
    InvalidForeignKey = "42830",
    /// `42602`: invalid_name.
    InvalidName = "42602",
    /// `42622`: name_too_long.
    NameTooLong = "42622",
    /// `42939`: reserved_name.
    ReservedName = "42939",
    /// `42804`: datatype_mismatch.
    DatatypeMismatch = "42804",
    /// `42P18`: indeterminate_datatype.
    IndeterminateDatatype = "42P18",
    /// `42P21`: collation_mismatch.
    CollationMismatch = "42P21",
    /// `42P22`: indeterminate_collation.
    IndeterminateCollation = "42P22",
    /// `42809`: wrong_object_type.
    WrongObjectType = "42809",
    /// `428C9`: generated_always.
    GeneratedAlways = "428C9",
    /// `42703`: undefined_column.
    UndefinedColumn = "42703",
    /// `42883`: undefined_function.
    UndefinedFunction = "42883",
    /// `42P01`: undefined_table.
    UndefinedTable = "42P01",
    /// `42P02`: undefined_parameter.
    UndefinedParameter = "42P02",
    /// `42704`: undefined_object.
    UndefinedObject = "42704",
    /// `42701`: duplicate_column.
    DuplicateColumn = "42701",
    /// `42P03`: duplicate_cursor.
    DuplicateCursor = "42P03",
    /// `42P04`: duplicate_database.
    DuplicateDatabase = "42P04",
    /// `42723`: duplicate_function.
    DuplicateFunction = "42723",
    /// `42P05`: duplicate_prepared_statement.
    DuplicatePstatement = "42P05",
    /// `42P06`: duplicate_schema.
    DuplicateSchema = "42P06",
    /// `42P07`: duplicate_table.
    DuplicateTable = "42P07",
    /// `42712`: duplicate_alias.
    DuplicateAlias = "42712",
    /// `42710`: duplicate_object.
    DuplicateObject = "42710",
    /// `42702`: ambiguous_column.
    AmbiguousColumn = "42702",
    /// `42725`: ambiguous_function.
    AmbiguousFunction = "42725",
    /// `42P08`: ambiguous_parameter.
    AmbiguousParameter = "42P08",
    /// `42P09`: ambiguous_alias.
    AmbiguousAlias = "42P09",
    /// `42P10`: invalid_column_reference.
    InvalidColumnReference = "42P10",
    /// `42611`: invalid_column_definition.
    InvalidColumnDefinition = "42611",
    /// `42P11`: invalid_cursor_definition.
    InvalidCursorDefinition = "42P11",
    /// `42P12`: invalid_database_definition.
    InvalidDatabaseDefinition = "42P12",
    /// `42P13`: invalid_function_definition.
    InvalidFunctionDefinition = "42P13",
    /// `42P14`: invalid_prepared_statement_definition.
    InvalidPstatementDefinition = "42P14",
    /// `42P15`: invalid_schema_definition.
    InvalidSchemaDefinition = "42P15",
    /// `42P16`: invalid_table_definition.
    InvalidTableDefinition = "42P16",
    /// `42P17`: invalid_object_definition.
    InvalidObjectDefinition = "42P17",
    // Class 44 - WITH CHECK OPTION Violation
    /// `44000`: with_check_option_violation.
    WithCheckOptionViolation = "44000",
    // Class 53 - Insufficient Resources
    /// `53000`: insufficient_resources.
    InsufficientResources = "53000",
    /// `53100`: disk_full.
    DiskFull = "53100",
    /// `53200`: out_of_memory.
    OutOfMemory = "53200",
    /// `53300`: too_many_connections.
    TooManyConnections = "53300",
    /// `53400`: configuration_limit_exceeded.
    ConfigurationLimitExceeded = "53400",
    // Class 54 - Program Limit Exceeded
    /// `54000`: program_limit_exceeded.
    ProgramLimitExceeded = "54000",
    /// `54001`: statement_too_complex.
    StatementTooComplex = "54001",
    /// `54011`: too_many_columns.
    TooManyColumns = "54011",
    /// `54023`: too_many_arguments.
    TooManyArguments = "54023",
    // Class 55 - Object Not In Prerequisite State
    /// `55000`: object_not_in_prerequisite_state.
    ObjectNotInPrerequisiteState = "55000",
    /// `55006`: object_in_use.
    ObjectInUse = "55006",
    /// `55P02`: cant_change_runtime_param.
    CantChangeRuntimeParam = "55P02",
    /// `55P03`: lock_not_available.
    LockNotAvailable = "55P03",
    /// `55P04`: unsafe_new_enum_value_usage.
    UnsafeNewEnumValueUsage = "55P04",
    // Class 57 - Operator Intervention
    /// `57000`: operator_intervention.
    OperatorIntervention = "57000",
    /// `57014`: query_canceled.
    QueryCanceled = "57014",
    /// `57P01`: admin_shutdown.
    AdminShutdown = "57P01",
    /// `57P02`: crash_shutdown.
    CrashShutdown = "57P02",
    /// `57P03`: cannot_connect_now.
    CannotConnectNow = "57P03",
    /// `57P04`: database_dropped.
    DatabaseDropped = "57P04",
    /// `57P05`: idle_session_timeout.
    IdleSessionTimeout = "57P05",
    // Class 58 - System Error (errors external to PostgreSQL itself)
    /// `58000`: system_error.
    SystemError = "58000",
    /// `58030`: io_error.
    IoError = "58030",
    /// `58P01`: undefined_file.
    UndefinedFile = "58P01",
    /// `58P02`: duplicate_file.
    DuplicateFile = "58P02",
    // Class 72 - Snapshot Failure
    /// `72000`: snapshot_too_old.
    SnapshotTooOld = "72000",
    // Class F0 - Configuration File Error
    /// `F0000`: config_file_error.
    ConfigFileError = "F0000",
    /// `F0001`: lock_file_exists.
    LockFileExists = "F0001",
    // Class HV - Foreign Data Wrapper Error (SQL/MED)
    /// `HV000`: fdw_error.
    FdwError = "HV000",
    /// `HV005`: fdw_column_name_not_found.
    FdwColumnNameNotFound = "HV005",
    /// `HV002`: fdw_dynamic_parameter_value_needed.
    FdwDynamicParameterValueNeeded = "HV002",
    /// `HV010`: fdw_function_sequence_error.
    FdwFunctionSequenceError = "HV010",
    /// `HV021`: fdw_inconsistent_descriptor_information.
    FdwInconsistentDescriptorInformation = "HV021",
    /// `HV024`: fdw_invalid_attribute_value.
    FdwInvalidAttributeValue = "HV024",
    /// `HV007`: fdw_invalid_column_name.
    FdwInvalidColumnName = "HV007",
    /// `HV008`: fdw_invalid_column_number.
    FdwInvalidColumnNumber = "HV008",
    /// `HV004`: fdw_invalid_data_type.
    FdwInvalidDataType = "HV004",
    /// `HV006`: fdw_invalid_data_type_descriptors.
    FdwInvalidDataTypeDescriptors = "HV006",
    /// `HV091`: fdw_invalid_descriptor_field_identifier.
    FdwInvalidDescriptorFieldIdentifier = "HV091",
    /// `HV00B`: fdw_invalid_handle.
    FdwInvalidHandle = "HV00B",
    /// `HV00C`: fdw_invalid_option_index.
    FdwInvalidOptionIndex = "HV00C",
    /// `HV00D`: fdw_invalid_option_name.
    FdwInvalidOptionName = "HV00D",
    /// `HV090`: fdw_invalid_string_length_or_buffer_length.
    FdwInvalidStringLengthOrBufferLength = "HV090",
    /// `HV00A`: fdw_invalid_string_format.
    FdwInvalidStringFormat = "HV00A",
    /// `HV009`: fdw_invalid_use_of_null_pointer.
    FdwInvalidUseOfNullPointer = "HV009",
    /// `HV014`: fdw_too_many_handles.
    FdwTooManyHandles = "HV014",
    /// `HV001`: fdw_out_of_memory.
    FdwOutOfMemory = "HV001",
    /// `HV00P`: fdw_no_schemas.
    FdwNoSchemas = "HV00P",
    /// `HV00J`: fdw_option_name_not_found.
    FdwOptionNameNotFound = "HV00J",
    /// `HV00K`: fdw_reply_handle.
    FdwReplyHandle = "HV00K",
    /// `HV00Q`: fdw_schema_not_found.
    FdwSchemaNotFound = "HV00Q",
    /// `HV00R`: fdw_table_not_found.
    FdwTableNotFound = "HV00R",
    /// `HV00L`: fdw_unable_to_create_execution.
    FdwUnableToCreateExecution = "HV00L",
    /// `HV00M`: fdw_unable_to_create_reply.
    FdwUnableToCreateReply = "HV00M",
    /// `HV00N`: fdw_unable_to_establish_connection.
    FdwUnableToEstablishConnection = "HV00N",
    // Class P0 - PL/pgSQL Error
    /// `P0000`: plpgsql_error.
    PlpgsqlError = "P0000",
    /// `P0001`: raise_exception.
    RaiseException = "P0001",
    /// `P0002`: no_data_found.
    NoDataFound = "P0002",
    /// `P0003`: too_many_rows.
    TooManyRows = "P0003",
    /// `P0004`: assert_failure.
    AssertFailure = "P0004",
    // Class XX - Internal Error
    /// `XX000`: internal_error.
    InternalError = "XX000",
    /// `XX001`: data_corrupted.
    DataCorrupted = "XX001",
    /// `XX002`: index_corrupted.
    IndexCorrupted = "XX002",
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        assert_eq!(SqlState::from_code("00000"), SqlState::SuccessfulCompletion);
        assert_eq!(
            SqlState::from_code("26000"),
            SqlState::InvalidSqlStatementName
        );
        assert_eq!(SqlState::from_code("0A000"), SqlState::FeatureNotSupported);
        assert_eq!(SqlState::from_code("57P01"), SqlState::AdminShutdown);
        assert_eq!(SqlState::from_code("40001").code(), "40001");
        assert_eq!(SqlState::UniqueViolation.class(), "23");
        let other = SqlState::from_code("ZZ123");
        assert!(matches!(other, SqlState::Other(_)));
        assert_eq!(other.code(), "ZZ123");
        assert_eq!(other.to_string(), "ZZ123");
        assert_eq!(SqlState::from_code("toolong!").code(), "toolo");
        assert_eq!(SqlState::from_code("a\u{e9}").code(), "a??");
        assert_eq!(SqlState::from_code("").code(), "");
    }
}
