using Xunit;

// Test classes run one after another. libtorch has one process-wide random generator: a test that seeds it and then
// builds a module is only reproducible when no other test draws from it at the same time. Parallel classes would not be
// faster anyway, since libtorch's intra-op threads already use every core.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
