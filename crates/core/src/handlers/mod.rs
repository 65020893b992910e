//! Handler logic, one module per Step Functions task.
