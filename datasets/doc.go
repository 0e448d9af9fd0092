// Package datasets loads the medical data fedledger trains on and splits it
// between hospitals.
//
// Real data is never bundled: loaders take the directory that holds the
// files as UCI distributes them (see ../shared/datasets/README.md), check
// their MD5 sums, and fail with a message that says which file is missing or
// differs and where to get it.
//
//   - LoadHeart: the UCI heart disease data of four hospitals (Cleveland,
//     Hungary, Switzerland, Long Beach VA) with FLamby's Fed-Heart-Disease
//     preprocessing, and a per-hospital train/test split drawn from a seed.
//   - Synthetic: a seeded four-hospital cohort with the same shape, for
//     machines without the data.
//
// A Federation is a list of hospitals, each with a train and a test Table of
// float64 features and 0/1 labels, already standardised.
package datasets
