## Which value of a two-level (or many-level) arm or period column is the
## baseline. One rule for every function that takes such a column:
##   1. an explicit `control =` (or `pre =`) value;
##   2. a factor: its level order;
##   3. logical: FALSE first; numbers 0/1: 0 first;
##   4. exactly one common baseline label, case-insensitively: control, ctrl,
##      baseline, base, A, pre, before, off, no, false, 0 (so control/treatment,
##      control/test/variant, A/B, pre/post and before/after all work);
##   5. anything else: sorted (numbers ascending, strings in C-locale order),
##      with a message naming the value taken as baseline and the argument that
##      changes it.
## The result lists the distinct values, baseline first (a factor keeps its
## class and levels).

baseline_labels <- c("control", "ctrl", "baseline", "base", "a", "pre", "before",
                     "off", "no", "false", "0")

## `x` the column, `arg` the argument naming it ("treatment", "group",
## "period"), `baseline` the value given by the user (or NULL), `baseline_arg`
## the name of that argument ("control", "pre"), `role` what the baseline is
## called in the message ("control arm", "pre period").
arm_values <- function(x, baseline = NULL, arg = "treatment", baseline_arg = "control",
                       role = "control arm") {
  vals <- if (is.factor(x)) {
    factor(levels(droplevels(x)), levels = levels(x))
  } else if (is.character(x)) {
    sort(unique(x), method = "radix")
  } else {
    sort(unique(x))
  }
  if (!is.null(baseline)) {
    if (length(baseline) != 1L || is.na(baseline)) {
      abort(sprintf("`%s` must be a single value of `%s`, such as \"%s\".", baseline_arg, arg,
                    format(vals[1L])))
    }
    at <- which(as.character(vals) == as.character(baseline))
    if (length(at) != 1L) {
      abort(sprintf("`%s` = \"%s\" is not a value of `%s`, whose values are %s.", baseline_arg,
                    format(baseline), arg, paste0('"', format(vals), '"', collapse = ", ")))
    }
    return(vals[c(at, seq_along(vals)[-at])])
  }
  if (is.factor(x) || is.logical(x) || length(vals) < 2L) return(vals)
  if (is.numeric(x) && vals[1L] == 0 && (length(vals) > 2L || vals[2L] == 1)) return(vals)
  label <- tolower(trimws(as.character(vals)))
  known <- which(label %in% baseline_labels)
  if (length(known) == 1L) return(vals[c(known, seq_along(vals)[-known])])
  inform(sprintf("`%s`: taking \"%s\" as the %s (the first in %s order); set `%s = ` to choose another.",
                 arg, format(vals[1L]), role,
                 if (is.character(x)) "alphabetical" else "ascending", baseline_arg),
         class = "clusterab_baseline_choice")
  vals
}
